-- Per customer and occasion (the second or later) followed by a silence longer than
-- lapse_min_days, up to the next occasion or up to D: the lifecycle's lapse threshold of that
-- silence (SPEC §5.2 rules 4 and 5), from the median of the gaps up to the occasion. A silence
-- longer than its threshold is a lapse, and the occasion that ends it a comeback: the segments
-- (int_segment_comebacks) and the monthly KPIs (lapsed and reborn customers) read them here.
-- The threshold is never below lapse_min_days, so only longer silences can lapse: the medians
-- are computed for those few occasions alone (for every occasion, the join with all earlier
-- ones spilled tens of GB at 100M order lines).
with occasions as (select * from {{ ref('int_purchase_occasions') }}),
facts as (select * from {{ ref('int_customer_facts') }}),

-- A silence that ended: the occasion ending it is at least the third (two occasions before it).
ended as (
    select
        customer_id,
        occasion_number - 1 as occasion_number,
        occasion_date - cast(gap_days as integer) as occasion_date,
        occasion_date as next_occasion_date,
        gap_days as silence_days
    from occasions
    where occasion_number >= 3
        and gap_days > {{ var('lapse_min_days') }}
),

-- The silence since the latest occasion, up to D.
ongoing as (
    select
        customer_id,
        occasions as occasion_number,
        last_purchase_date as occasion_date,
        cast(null as date) as next_occasion_date,
        recency_days as silence_days
    from facts
    where occasions >= 2
        and recency_days > {{ var('lapse_min_days') }}
),

silences as (
    select * from ended
    union all
    select * from ongoing
),

medians as (
    select
        silences.customer_id,
        silences.occasion_number,
        silences.occasion_date,
        silences.next_occasion_date,
        silences.silence_days,
        median(earlier.gap_days) as median_gap_days
    from silences
    inner join occasions as earlier
        on earlier.customer_id = silences.customer_id
        and earlier.occasion_number between 2 and silences.occasion_number
    group by all
),

final as (
    select
        *,
        {{ lapse_threshold_days('median_gap_days') }} as lapse_threshold_days
    from medians
)

select * from final
