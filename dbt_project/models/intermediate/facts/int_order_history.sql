-- Every loaded order line of a customer, summed per (drop, visible date, customer, day, order):
-- the sums and flags every per-customer, per-day and per-month figure is built from, for any
-- as-of date (int_customer_orders keeps the rows visible on D). Guest lines have no customer
-- and are left out. Lines count as merchandise when not cancelled and is_merchandise (SPEC §3).
--
-- Incremental: a night recomputes only the drops whose load is not in the table yet (a new
-- drop, a late drop for an earlier date, a corrected drop replacing its earlier version, whose
-- rows a delete+insert on drop_date replaces). Products are costed as of D, so when a product's
-- attributes as of D differ from those the table was built with (a cost change, a product
-- delivered again), every drop is recomputed; `dbt build --full-refresh` rebuilds it too.
--
-- On Spark a plain table, rebuilt whole each run (is_incremental() is false there, so the
-- incremental look-ups of macros/incremental.sql do not run).
{{
    config(
        materialized=('incremental' if target.type == 'duckdb' else 'table'),
        incremental_strategy='delete+insert',
        unique_key='drop_date',
        on_schema_change='fail'
    )
}}
{%- set fingerprint = products_fingerprint(ref('int_products')) %}
{%- set rebuild = not is_incremental() or built_with_products(this) != fingerprint %}
{%- set drops = [] if rebuild else loads_not_in(this, 'orders') %}

with lines as (
    select
        *,
        is_merchandise and not is_cancelled as is_sale
    from {{ ref('int_order_lines') }}
    where customer_id is not null
    {%- if not rebuild %}
        -- only the drops loaded since the last build
        and drop_date in (
            {%- for day in drops %}date '{{ day }}'{% if not loop.last %}, {% endif %}{% endfor %}
            {%- if not drops %}null{% endif -%}
        )
    {%- endif %}
)

select
    drop_date,
    load_id,
    visible_from,
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
    '{{ fingerprint }}' as products_fingerprint
from lines
group by drop_date, load_id, visible_from, customer_id, order_date, order_id
