-- A view, not a table: its one reader, int_order_history, aggregates it to one row per
-- (drop, customer, day, order) in the same scan; writing every order line again would cost more.
{# On Spark a table: every model there is Parquet files (orchestration/lake.py). #}
{{ config(materialized=("view" if target.type == "duckdb" else "table")) }}
-- Every loaded order line with what every money figure needs: merchandise flag, the unit cost
-- (line, else product as of D, else unknown) and the signed net amount. Not restricted to D:
-- int_order_history is kept for every loaded drop, and int_customer_orders applies D.
with lines as (select * from {{ ref('stg_raw__orders') }}),
products as (select * from {{ ref('int_products') }})

select
    lines.drop_date,
    lines.load_id,
    lines.visible_from,
    lines.order_id,
    lines.line_number,
    lines.customer_id,
    lines.ordered_at,
    lines.order_date,
    lines.product_id,
    lines.status,
    lines.is_cancelled,
    lines.is_return,
    lines.quantity,
    lines.unit_price,
    lines.discount,
    lines.line_amount,
    coalesce(products.is_merchandise, true) as is_merchandise,
    coalesce(lines.unit_cost, products.unit_cost) as unit_cost,
    coalesce(lines.unit_cost, products.unit_cost) is null as cost_assumed,
    -- Cost of goods: known unit cost, else the assumed margin rate on the net amount.
    coalesce(
        lines.quantity * coalesce(lines.unit_cost, products.unit_cost),
        lines.line_amount * (1 - {{ var('default_margin_rate') }})
    ) as line_cogs,
    -- Sales before returns: what purchase lines were charged.
    case when lines.quantity > 0 then lines.line_amount else 0 end as gross_amount,
    case when lines.quantity < 0 then -lines.line_amount else 0 end as returned_amount,
    lines.discount > 0 as has_discount,
    lines.shipping_cost,
    lines.shipping_charged
from lines
left join products using (product_id)
