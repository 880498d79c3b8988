{# Spark reads the sources as Parquet: before each dbt step on Spark, the night writes the
   warehouse's source tables to <home>/lake/<schema>/<table>/ (orchestration/lake.py) and names
   them in CLIENTELE_LAKE_TABLES; each invocation registers them anew, so a session never reads a
   stale file list. Without that variable (dbt run by hand), every source is registered. DuckDB
   reads its own file: nothing to do. #}
{% macro register_lake_sources() -%}
    {%- if execute and target.type == 'spark' -%}
        {%- set lake = env_var('CLIENTELE_HOME') ~ '/lake' -%}
        {%- set listed = env_var('CLIENTELE_LAKE_TABLES', '') -%}
        {%- set tables = [] -%}
        {%- for source in graph.sources.values() -%}
            {%- set name = source.schema ~ '.' ~ source.identifier -%}
            {%- if (listed == '' or name in listed.split(',')) and name not in tables -%}
                {%- do tables.append(name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for name in tables -%}
            {%- set schema, table = name.split('.') -%}
            {%- do run_query('create schema if not exists ' ~ schema) -%}
            {%- do run_query('drop table if exists ' ~ name) -%}
            {%- do run_query("create table " ~ name ~ " using parquet location '" ~ lake ~ "/"
                ~ schema ~ "/" ~ table ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
