-- One row per (customer, order date, order) of the customers' order lines up to D, with the
-- sums and flags every per-customer, per-day and per-month figure is built from. The readers
-- (customers, money, occasions, monthly KPIs) aggregate these few million rows instead of each
-- re-reading every order line. Guest lines have no customer and are left out.
-- Lines count as merchandise when not cancelled and is_merchandise (SPEC §3).
with lines as (
    select
        *,
        is_merchandise and not is_cancelled as is_sale
    from {{ ref('int_order_lines') }}
    where customer_id is not null
)

select
    customer_id,
    order_date,
    order_id,
    count(*) filter (where is_sale) as merchandise_lines,
    coalesce(bool_or(is_sale and quantity > 0), false) as has_purchase_line,
    sum(line_amount) filter (where is_sale) as net_amount,
    sum(gross_amount) filter (where is_sale) as gross_amount,
    sum(gross_amount) filter (where is_sale and has_discount) as discounted_gross_amount,
    sum(returned_amount) filter (where is_sale) as returned_amount,
    count(*) filter (where is_sale and is_return) as return_lines,
    sum(line_cogs) filter (where is_sale) as cogs,
    bool_or(cost_assumed) filter (where is_sale) as any_cost_assumed,
    -- Shipping counts on every non-cancelled line, merchandise or not.
    sum(shipping_cost - shipping_charged) filter (where not is_cancelled) as net_shipping_cost,
    bool_or(is_cancelled) as has_cancelled_line,
    bool_or(in_12m) as in_12m
from lines
group by customer_id, order_date, order_id
