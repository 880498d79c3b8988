-- The whale curve (Kaplan & Narayanan; SPEC §7): external customers ranked by contribution_12m,
-- most profitable first, and the cumulative contribution as a % of the total at each
-- percentile of customers (0, 1, ..., whale_curve_points). The curve climbs above 100% while
-- profitable customers are added, peaks where the last one is, then falls back to 100% as the
-- below-zero tail gives profit away. Every row repeats the summary: the peak, the share of
-- customers at the peak and the profit lost to the below-zero tail.
-- Every external customer counts (prospects too: support for them costs money), so the total
-- is the external customers' contribution_12m in customer_facts. Percentages are NULL when
-- that total is not positive (a whale curve needs a profit to be a share of).
{%- set points = var('whale_curve_points') %}

with customers as (
    select * from {{ ref('int_scorecard_customers') }}
    where role = 'external'
),

ranked as (
    select
        customer_id,
        contribution_12m,
        row_number() over (order by contribution_12m desc, customer_id) as customer_rank,
        sum(contribution_12m) over (
            order by contribution_12m desc, customer_id
            rows between unbounded preceding and current row
        ) as cumulative_contribution_12m
    from customers
),

summary as (
    select
        count(*) as total_customers,
        sum(contribution_12m) as total_contribution_12m,
        coalesce(sum(contribution_12m) filter (where contribution_12m > 0), 0)
            as peak_contribution_12m,
        count(*) filter (where contribution_12m > 0) as peak_customers,
        count(*) filter (where contribution_12m < 0) as below_zero_customers,
        coalesce(sum(contribution_12m) filter (where contribution_12m < 0), 0)
            as below_zero_contribution_12m
    from ranked
),

-- The percentile points and how many of the ranked customers each one covers.
points as (
    select
        point as percentile,
        cast(ceil(point * summary.total_customers / {{ points }}) as bigint) as customers
    from range(0, {{ points }} + 1) as spine(point)
    cross join summary
    where summary.total_customers > 0
),

curve as (
    select
        points.percentile,
        points.customers,
        coalesce(ranked.cumulative_contribution_12m, 0) as cumulative_contribution_12m
    from points
    left join ranked on ranked.customer_rank = points.customers
),

final as (
    select
        {{ as_of() }} as as_of_date,
        curve.percentile,
        curve.customers,
        curve.customers / summary.total_customers as customer_share,
        cast(curve.cumulative_contribution_12m as decimal(18, 2)) as cumulative_contribution_12m,
        {{ pct_of_positive_total(
            'curve.cumulative_contribution_12m', 'summary.total_contribution_12m'
        ) }} as cumulative_contribution_pct,
        summary.total_customers,
        cast(summary.total_contribution_12m as decimal(18, 2)) as total_contribution_12m,
        cast(summary.peak_contribution_12m as decimal(18, 2)) as peak_contribution_12m,
        {{ pct_of_positive_total(
            'summary.peak_contribution_12m', 'summary.total_contribution_12m'
        ) }} as peak_contribution_pct,
        summary.peak_customers,
        summary.peak_customers / summary.total_customers as peak_customer_share,
        summary.below_zero_customers,
        cast(-summary.below_zero_contribution_12m as decimal(18, 2)) as profit_lost_below_zero
    from curve
    cross join summary
)

select * from final
