-- The customers' orders known on D: the order history's rows visible on D and dated up to D,
-- with the 12m flag. One row per (customer, order date, order), or more where one order's
-- lines came in several drops: readers sum and count distinct orders, never rows.
{# On Spark a table: every model there is Parquet files (orchestration/lake.py). #}
{{ config(materialized=("view" if target.type == "duckdb" else "table")) }}
select
    customer_id,
    order_date,
    order_id,
    merchandise_lines,
    has_purchase_line,
    net_amount,
    gross_amount,
    discounted_gross_amount,
    returned_amount,
    return_lines,
    cogs,
    any_cost_assumed,
    net_shipping_cost,
    has_cancelled_line,
    order_date >= {{ window_start(var('window_12m_days')) }} as in_12m
from {{ ref('int_order_history') }}
where {{ known_on_as_of('order_date') }}
