-- The head of the chain of scheme models: every number a segment rule reads
-- (int_segment_inputs) and, beside them, the numbers the reasons quote, as text ('unknown' when
-- NULL). Each scheme model of this folder adds its label and reason to the rows of the one
-- before, in the spec's order (later schemes read earlier labels). They are views:
-- int_customer_segments materializes the whole chain in one query.
with inputs as (select * from {{ ref('int_segment_inputs') }}),

final as (
    select
        *,
        {{ seg_date('signed_up_date') }} as signed_up_txt,
        {{ seg_date('first_purchase_date') }} as first_purchase_txt,
        {{ seg_num('recency_days') }} || 'd' as recency_txt,
        {{ seg_num('tenure_days') }} || 'd' as tenure_txt,
        {{ seg_num('occasions') }} as occasions_txt,
        {{ seg_num('occasions_24m') }} as occasions_24m_txt,
        {{ seg_num('coalesce(referrals_12m, 0)') }} as referrals_txt,
        {{ seg_num('contribution_12m', 2) }} as contribution_txt,
        {{ seg_num('clv_12m', 2) }} as clv_txt,
        {{ seg_num('p_alive', 2) }} as p_alive_txt,
        case when nps_from_csat then 'CSAT mapped to ' else 'NPS ' end
            || {{ seg_num('nps_score') }} || ' on ' || {{ seg_date('cast(nps_at as date)') }}
            as nps_txt,
        case voice_kind
            when 'survey' then
                case when voice_from_csat then 'CSAT mapped to ' else 'NPS ' end
                || {{ seg_num('voice_score') }} || ' on '
                || {{ seg_date('cast(voice_at as date)') }}
            when 'complaint' then
                complaint_severity || '-severity complaint on '
                || {{ seg_date('cast(voice_at as date)') }}
        end as voice_txt
    from inputs
)

select * from final
