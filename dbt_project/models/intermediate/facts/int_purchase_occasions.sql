-- A purchase occasion is a (customer, calendar day) with positive net merchandise revenue of
-- non-cancelled lines: same-day orders merge into one occasion (SPEC §3). It is the unit of
-- frequency and of the CLV model.
with days as (
    select
        customer_id,
        order_date as occasion_date,
        sum(net_amount) as net_revenue,
        count(distinct order_id) as orders
    from {{ ref('int_customer_orders') }}
    where merchandise_lines > 0
    group by customer_id, order_date
)

select
    customer_id,
    occasion_date,
    net_revenue,
    orders,
    row_number() over (partition by customer_id order by occasion_date) as occasion_number,
    {{ days_between(
        'occasion_date',
        'lag(occasion_date) over (partition by customer_id order by occasion_date)'
    ) }} as gap_days
from days
where net_revenue > 0
