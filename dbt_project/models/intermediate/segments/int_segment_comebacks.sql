-- Per customer: the latest comeback within reborn_window_days of D (SPEC §5.2 rule 5) — an
-- occasion that ended a gap longer than max(lapse_min_days, lapse_gap_multiple × the median
-- gap of the occasions before that gap). "The ≥ 2 occasions before that gap" means the
-- comeback is at least the third occasion, so the earlier gaps have a median.
with occasions as (
    select * from {{ ref('int_purchase_occasions') }}
),

-- The threshold is never below lapse_min_days, so only a longer gap can be a comeback: the
-- median is computed for those few occasions alone (for every recent occasion, the join with
-- all earlier ones spilled tens of GB at 100M order lines).
recent_gaps as (
    select customer_id, occasion_date, occasion_number, gap_days
    from occasions
    where occasion_date >= {{ window_start(var('reborn_window_days')) }}
        and occasion_date <= {{ as_of() }}
        and occasion_number >= 3
        and gap_days > {{ var('lapse_min_days') }}
),

prior_median as (
    select
        recent_gaps.customer_id,
        recent_gaps.occasion_date,
        recent_gaps.gap_days,
        median(earlier.gap_days) as prior_median_gap_days
    from recent_gaps
    inner join occasions as earlier
        on earlier.customer_id = recent_gaps.customer_id
        and earlier.occasion_number between 2 and recent_gaps.occasion_number - 1
    group by recent_gaps.customer_id, recent_gaps.occasion_date, recent_gaps.gap_days
),

thresholds as (
    select
        *,
        greatest(
            {{ var('lapse_min_days') }},
            {{ var('lapse_gap_multiple') }} * prior_median_gap_days
        ) as lapse_threshold_days
    from prior_median
),

final as (
    select
        customer_id,
        occasion_date as comeback_date,
        gap_days as comeback_gap_days,
        prior_median_gap_days,
        lapse_threshold_days,
        {{ as_of() }} - occasion_date as comeback_days_ago
    from thresholds
    where gap_days > lapse_threshold_days
    qualify row_number() over (partition by customer_id order by occasion_date desc) = 1
)

select * from final
