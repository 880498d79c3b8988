{# Use the configured schema name as is (no "<target>_" prefix): raw, staging, intermediate, main. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
