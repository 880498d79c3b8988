-- Per purchasing customer: R, F and M scores 1-5 by quintile (SPEC §5.5), 5 = best.
-- Each score is ceil(5 × position / customers) in an order from worst to best, so the best
-- customer always scores 5. Ties are broken deterministically: R by occasions; F by tenure (of
-- two customers with as many occasions the longer-standing one ranks higher, so the recent
-- single buyers stay F1 where the grid's new_customers and promising expect them); M by
-- occasions; then by customer_id.
with facts as (
    select * from {{ ref('int_customer_facts') }}
    where occasions >= 1
),

positions as (
    select
        customer_id,
        count(*) over () as customers,
        row_number() over (
            order by recency_days desc, occasions nulls last, customer_id
        ) as r_position,
        row_number() over (
            order by occasions nulls last, tenure_days nulls last, customer_id
        ) as f_position,
        row_number() over (
            order by revenue_12m nulls last, occasions nulls last, customer_id
        ) as m_position
    from facts
),

final as (
    select
        customer_id,
        cast(ceil(round(5.0 * r_position / cast(customers as double), 6)) as integer) as r_score,
        cast(ceil(round(5.0 * f_position / cast(customers as double), 6)) as integer) as f_score,
        cast(ceil(round(5.0 * m_position / cast(customers as double), 6)) as integer) as m_score
    from positions
)

select * from final
