-- Per customer: money and counts from order lines up to D (SPEC §3). Cancelled orders only
-- count in cancellations_count; shipping counts on every non-cancelled line, merchandise or not.
-- Read by three aggregates: not materialized, so each scans the table (a scan is cheaper than
-- DuckDB's copy of ~50M rows at 100M order lines into a CTE buffer).
with orders as {{ cte_not_materialized() }} (
    select * from {{ ref('int_customer_orders') }}
),

merchandise as (
    select
        customer_id,
        count(distinct order_id) filter (where has_purchase_line) as orders_count,
        count(distinct order_id) filter (where has_purchase_line and in_12m) as orders_12m,
        sum(net_amount) as revenue,
        sum(net_amount) filter (where in_12m) as revenue_12m,
        sum(gross_amount) filter (where in_12m) as gross_sales_12m,
        sum(discounted_gross_amount) filter (where in_12m) as discounted_sales_12m,
        sum(returned_amount) filter (where in_12m) as returns_value_12m,
        cast(sum(return_lines) as bigint) as return_lines,
        cast(sum(return_lines) filter (where in_12m) as bigint) as return_lines_12m,
        sum(cogs) as cogs,
        sum(cogs) filter (where in_12m) as cogs_12m,
        bool_or(any_cost_assumed) as any_cost_assumed
    from orders
    where merchandise_lines > 0
    group by customer_id
),

shipping as (
    select
        customer_id,
        sum(net_shipping_cost) as net_shipping_cost,
        sum(net_shipping_cost) filter (where in_12m) as net_shipping_cost_12m
    from orders
    where net_shipping_cost is not null
    group by customer_id
),

cancellations as (
    select customer_id, count(distinct order_id) as cancellations_count
    from orders
    where has_cancelled_line
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
