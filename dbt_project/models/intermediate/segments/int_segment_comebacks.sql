-- Per customer: the latest comeback within reborn_window_days of D (SPEC §5.2 rule 5), an
-- occasion that ended a silence longer than its lapse threshold (int_lapse_thresholds: the
-- comeback is at least the third occasion, so the gaps before the silence have a median).
with silences as (
    select * from {{ ref('int_lapse_thresholds') }}
    where next_occasion_date >= {{ window_start(var('reborn_window_days')) }}
        and next_occasion_date <= {{ as_of() }}
),

ranked as (
    select
        customer_id,
        next_occasion_date as comeback_date,
        silence_days as comeback_gap_days,
        median_gap_days as prior_median_gap_days,
        lapse_threshold_days,
        {{ days_between(as_of(), 'next_occasion_date') }} as comeback_days_ago,
        row_number() over (
            partition by customer_id order by next_occasion_date desc
        ) as comeback_rank
    from silences
    where silence_days > lapse_threshold_days
),

final as (
    select
        customer_id,
        comeback_date,
        comeback_gap_days,
        prior_median_gap_days,
        lapse_threshold_days,
        comeback_days_ago
    from ranked
    where comeback_rank = 1
)

select * from final
