-- Per customer: money and counts from order lines up to D (SPEC §3). Cancelled orders only
-- count in cancellations_count; shipping counts on every non-cancelled line, merchandise or not.
with lines as (
    select * from {{ ref('int_order_lines') }}
    where customer_id is not null
),

merchandise as (
    select
        customer_id,
        count(distinct order_id) filter (where quantity > 0) as orders_count,
        count(distinct order_id) filter (where quantity > 0 and in_12m) as orders_12m,
        sum(line_amount) as revenue,
        sum(line_amount) filter (where in_12m) as revenue_12m,
        sum(gross_amount) filter (where in_12m) as gross_sales_12m,
        sum(gross_amount) filter (where in_12m and has_discount) as discounted_sales_12m,
        sum(returned_amount) filter (where in_12m) as returns_value_12m,
        count(*) filter (where is_return) as return_lines,
        count(*) filter (where is_return and in_12m) as return_lines_12m,
        sum(line_cogs) as cogs,
        sum(line_cogs) filter (where in_12m) as cogs_12m,
        bool_or(cost_assumed) as any_cost_assumed
    from lines
    where is_merchandise and not is_cancelled
    group by customer_id
),

shipping as (
    select
        customer_id,
        sum(shipping_cost - shipping_charged) as net_shipping_cost,
        sum(shipping_cost - shipping_charged) filter (where in_12m) as net_shipping_cost_12m
    from lines
    where not is_cancelled
    group by customer_id
),

cancellations as (
    select customer_id, count(distinct order_id) as cancellations_count
    from lines
    where is_cancelled
    group by customer_id
)

select
    customer_id,
    coalesce(m.orders_count, 0) as orders_count,
    coalesce(m.orders_12m, 0) as orders_12m,
    coalesce(c.cancellations_count, 0) as cancellations_count,
    coalesce(m.revenue, 0) as revenue,
    coalesce(m.revenue_12m, 0) as revenue_12m,
    coalesce(m.gross_sales_12m, 0) as gross_sales_12m,
    coalesce(m.discounted_sales_12m, 0) as discounted_sales_12m,
    coalesce(m.returns_value_12m, 0) as returns_value_12m,
    coalesce(m.return_lines, 0) as return_lines,
    coalesce(m.return_lines_12m, 0) as return_lines_12m,
    coalesce(m.cogs, 0) as cogs,
    coalesce(m.cogs_12m, 0) as cogs_12m,
    case when m.any_cost_assumed then 'assumed' when m.customer_id is not null then 'actual' end
        as cost_basis,
    coalesce(s.net_shipping_cost, 0) as net_shipping_cost,
    coalesce(s.net_shipping_cost_12m, 0) as net_shipping_cost_12m
from merchandise as m
full outer join shipping as s using (customer_id)
full outer join cancellations as c using (customer_id)
