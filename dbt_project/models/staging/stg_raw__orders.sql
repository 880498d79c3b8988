-- One order line, typed and normalized. Returns carry a negative signed quantity whether the
-- export marked them with a negative quantity or with status `returned`.
-- Unlike the other staging views this one keeps every loaded line, with its drop, load and
-- visibility date: the order history (int_order_history) is built incrementally, for any
-- as-of date, and int_customer_orders keeps the rows visible on D.
with source as (select * from {{ source('raw', 'orders') }}),

normalized as (
    select
        order_id,
        customer_id,
        ordered_at,
        cast(ordered_at as date) as order_date,
        product_id,
        line_number,
        coalesce(status, 'completed') as status,
        case when status = 'returned' then -abs(quantity) else quantity end as quantity,
        unit_price,
        coalesce(discount, 0) as discount,
        unit_cost,
        currency,
        channel,
        coalesce(shipping_cost, 0) as shipping_cost,
        coalesce(shipping_charged, 0) as shipping_charged,
        contact_id,
        _file as source_file,
        _row_number as source_row,
        _drop_date as drop_date,
        _load_id as load_id,
        _visible_from as visible_from
    from source
)

select
    *,
    status = 'cancelled' as is_cancelled,
    quantity < 0 as is_return,
    -- A return refunds what was charged: the discount is given back with the line.
    quantity * unit_price - {{ int_sign('quantity') }} * discount as line_amount
from normalized
