{# The as-of date D as a DATE literal: the var `as_of`, else the environment variable
   CLIENTELE_AS_OF (how Dagster passes it: a --vars that changes every night makes dbt re-parse
   the whole project, an environment variable does not). Fails loudly when neither is set. #}
{% macro as_of() -%}
    {%- set value = var('as_of') or env_var('CLIENTELE_AS_OF', '') -%}
    {%- if execute and (value is none or value | string | trim == '') -%}
        {{ exceptions.raise_compiler_error("the as-of date is required: dbt build --vars '{as_of: YYYY-MM-DD}' (or CLIENTELE_AS_OF=YYYY-MM-DD)") }}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{# First day of the window of `days` days ending on D (inclusive). #}
{% macro window_start(days) -%}
    ({{ as_of() }} - cast({{ days }} - 1 as integer))
{%- endmacro %}

{# A row of the order lines or the order history known on D: delivered (visible) by D and dated
   up to D. Staging keeps every loaded order line, for the incremental order history, so every
   reader of orders for D filters with this. #}
{% macro known_on_as_of(event_date) -%}
    visible_from <= {{ as_of() }} and {{ event_date }} <= {{ as_of() }}
{%- endmacro %}
