-- Per calendar month with an order line or a ticket of an external customer, up to D: the
-- money of the orders (the definitions of customer_facts, so the months add up to the external
-- customers' lifetime figures) and the support minutes charged for the tickets.
with customers as (
    select customer_id from {{ ref('int_scorecard_customers') }}
    where role = 'external'
),

orders as (
    select
        orders.order_date,
        orders.order_id,
        orders.has_purchase_line,
        orders.net_amount,
        orders.cogs,
        orders.return_lines,
        orders.net_shipping_cost
    from {{ ref('int_customer_orders') }} as orders
    inner join customers using (customer_id)
),

tickets as (
    select tickets.opened_date, tickets.handling_minutes
    from {{ ref('stg_raw__tickets') }} as tickets
    inner join customers using (customer_id)
    where tickets.opened_date <= {{ as_of() }}
),

money as (
    select
        {{ month_start('order_date') }} as month,
        sum(net_amount) as revenue,
        sum(cogs) as cogs,
        count(distinct order_id) filter (where has_purchase_line) as orders,
        sum(return_lines) as return_lines,
        sum(net_shipping_cost) as net_shipping_cost
    from orders
    group by 1
),

support as (
    select
        {{ month_start('opened_date') }} as month,
        sum({{ charged_minutes('handling_minutes') }}) as handling_minutes
    from tickets
    group by 1
),

final as (
    select *
    from money
    full outer join support using (month)
)

select * from final
