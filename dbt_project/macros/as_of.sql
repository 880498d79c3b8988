{# The as-of date D as a DATE literal. Fails loudly when no date was given. #}
{% macro as_of() -%}
    {%- set value = var('as_of') -%}
    {%- if execute and (value is none or value | string | trim == '') -%}
        {{ exceptions.raise_compiler_error("var 'as_of' is required: dbt build --vars '{as_of: YYYY-MM-DD}'") }}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{# First day of the window of `days` days ending on D (inclusive). #}
{% macro window_start(days) -%}
    ({{ as_of() }} - cast({{ days }} - 1 as integer))
{%- endmacro %}
