-- Every customer's labels and action per as-of date, for segment migration (SPEC §7).
-- Appended once per as-of date: a re-run for the same D replaces that date's rows
-- (delete+insert on as_of_date), so it is idempotent and leaves no stale customers. The grain
-- is (as_of_date, customer_id). full_refresh is off: `dbt build --full-refresh` keeps it.
{#- On Spark the Parquet table cannot delete rows, nor be overwritten while it is read: a pre-hook
    copies it aside (<this>__kept), the model adds the copy's rows of the other as-of dates to
    the new rows and the whole table is overwritten (insert_overwrite, unpartitioned, so the
    column order stays); a post-hook drops the copy (macros/segments.sql). #}
{%- set on_spark = target.type == 'spark' %}
{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite' if target.type == 'spark' else 'delete+insert',
        unique_key=none if target.type == 'spark' else 'as_of_date',
        full_refresh=false,
        on_schema_change='append_new_columns',
        pre_hook=["{{ segment_history_kept('drop') }}", "{{ segment_history_kept('keep') }}"]
            if target.type == 'spark' else [],
        post_hook=["{{ segment_history_kept('drop') }}"] if target.type == 'spark' else []
    )
}}
{#- Warehouses built before this model existed kept the history in the table
    main.segment_history, which the view of that name replaces in the same build: the first
    build here carries its other dates over, so upgrading loses no history. #}
{%- set legacy = none %}
{%- if execute and not is_incremental() and not on_spark %}
    {%- set found = adapter.get_relation(
        database=this.database, schema='main', identifier='segment_history'
    ) %}
    {%- if found is not none and found.type == 'table' %}{% set legacy = found %}{% endif %}
{%- endif %}

with segments as (select * from {{ ref('int_customer_segments') }}),
actions as (select * from {{ ref('int_customer_actions') }}),

final as (
    select
        segments.as_of_date,
        segments.customer_id,
        segments.role,
        segments.lifecycle,
        segments.satisfaction,
        segments.nps_group,
        segments.rfm_segment,
        segments.value_tier,
        segments.loyalty_type,
        segments.loyalty_driver,
        segments.loyalty_ladder,
        segments.ten_types,
        actions.action,
        segments.p_alive,
        segments.clv_12m,
        segments.contribution_12m
    from segments
    inner join actions using (customer_id)
)

select * from final
{%- if on_spark and is_incremental() %}
union all
select *  -- the same columns in the same order: the copy was made of this table
from {{ this.schema }}.{{ this.identifier }}__kept
where as_of_date not in (select as_of_date from final)
{%- endif %}
{%- if legacy is not none %}
union all by name
select * from {{ legacy }}
where as_of_date != {{ as_of() }}
{%- endif %}
