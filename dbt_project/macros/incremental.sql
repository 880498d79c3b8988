{# The fingerprint of the products as of D (a model of product_id, is_merchandise, unit_cost):
   when it changes, the order history is costed anew. Read when the model compiles, just before
   it runs, so the products model of this build is the one read. #}
{# Both engines have hash(), each its own function: a fingerprint is only ever compared with one
   the same engine made. #}
{% macro products_fingerprint(products) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set result = run_query(
        "select coalesce(cast(sum(hash(product_id, is_merchandise, unit_cost)) as " ~ text_type()
        ~ "), 'none') from " ~ products
    ) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}

{# The products fingerprint the incremental table was built with ('' when it has no rows).
   This and loads_not_in run only on an incremental build, which is DuckDB's alone: on Spark
   int_order_history is a table rebuilt whole. #}
{% macro built_with_products(relation) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set result = run_query("select coalesce(max(products_fingerprint), '') from " ~ relation) -%}
    {{ return(result.columns[0].values()[0]) }}
{%- endmacro %}

{# The drop dates of a source whose current load (raw.loaded_drops) is not in the incremental
   table yet: new drops, and drops loaded again since (corrected). As 'YYYY-MM-DD' texts. #}
{% macro loads_not_in(relation, source) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set result = run_query(
        "select strftime(drop_date, '%Y-%m-%d') from raw.loaded_drops where source = '" ~ source
        ~ "' and (drop_date, load_id) not in (select distinct drop_date, load_id from "
        ~ relation ~ ") order by 1"
    ) -%}
    {{ return(result.columns[0].values() | list) }}
{%- endmacro %}
