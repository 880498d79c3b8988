-- Per calendar month with a survey answer of an external customer, up to D: the answers on the
-- NPS scale (CSAT-only answers mapped onto it, as everywhere else) with the promoters and
-- detractors among them, and the CSAT answers with the satisfied ones.
with customers as (
    select customer_id from {{ ref('int_scorecard_customers') }}
    where role = 'external'
),

surveys as (
    select surveys.responded_date, surveys.nps_equivalent, surveys.csat_score
    from {{ ref('stg_raw__surveys') }} as surveys
    inner join customers using (customer_id)
    where surveys.responded_date <= {{ as_of() }}
),

final as (
    select
        {{ month_start('responded_date') }} as month,
        count(nps_equivalent) as nps_responses,
        count(*) filter (where nps_equivalent > {{ var('passive_max_score') }}) as promoters,
        count(*) filter (where nps_equivalent <= {{ var('detractor_max_score') }}) as detractors,
        count(csat_score) as csat_responses,
        count(*) filter (where csat_score >= {{ var('csat_satisfied_min_score') }})
            as csat_satisfied
    from surveys
    group by 1
)

select * from final
