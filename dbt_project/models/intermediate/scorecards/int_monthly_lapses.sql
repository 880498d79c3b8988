-- Per KPI month, the external customers lapsed at its end and those reborn in it, by the
-- lifecycle's rules (SPEC §5.2 rules 4 and 5) applied month by month: a silence after the
-- second or later occasion longer than its lapse threshold (int_lapse_thresholds) is a lapse
-- until it exceeds lost_days, and the occasion that ends it a comeback.
with customers as (
    select customer_id from {{ ref('int_scorecard_customers') }}
    where role = 'external'
),

months as (select * from {{ ref('int_kpi_months') }}),

thresholds as (
    select thresholds.*
    from {{ ref('int_lapse_thresholds') }} as thresholds
    semi join customers using (customer_id)
),

-- Reborn: the occasion that ends such a silence, when the silence exceeds the threshold.
reborn as (
    select {{ month_start('next_occasion_date') }} as month, count(*) as customers
    from thresholds
    where {{ days_between('next_occasion_date', 'occasion_date') }} > lapse_threshold_days
    group by 1
),

-- Lapsed at the month end: the last occasion before it is at least the second, the silence
-- since exceeds its threshold (in whole days: more than t days = at least floor(t) + 1), and it
-- does not exceed lost_days yet. A range join of each occasion's lapsed span.
lapsed_spans as (
    select
        customer_id,
        occasion_date + cast(floor(lapse_threshold_days) as integer) + 1 as lapsed_from,
        least(
            occasion_date + {{ var('lost_days') }},
            coalesce(next_occasion_date - 1, {{ as_of() }})
        ) as lapsed_until
    from thresholds
),

lapsed as (
    select months.month, count(*) as customers
    from months
    inner join lapsed_spans
        on months.month_end between lapsed_spans.lapsed_from and lapsed_spans.lapsed_until
    group by months.month
),

final as (
    select
        months.month,
        lapsed.customers as lapsed_customers,
        reborn.customers as reborn_customers
    from months
    left join lapsed using (month)
    left join reborn using (month)
)

select * from final
