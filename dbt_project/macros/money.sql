{# Money definitions shared by the customer facts (SPEC §3) and the monthly KPIs (§7), so both
   charge the same costs. #}

{# Cost to serve: cost_per_order per order, cost_per_return per returned line,
   cost_per_support_minute per support minute charged, plus the net shipping cost (what
   shipping cost beyond what was charged). Each argument is an expression; NULL counts as 0. #}
{% macro cost_to_serve(orders, return_lines, support_minutes, net_shipping_cost) -%}
    coalesce({{ orders }}, 0) * {{ var('cost_per_order') }}
        + coalesce({{ return_lines }}, 0) * {{ var('cost_per_return') }}
        + coalesce({{ support_minutes }}, 0) * {{ var('cost_per_support_minute') }}
        + coalesce({{ net_shipping_cost }}, 0)
{%- endmacro %}

{# The support minutes a ticket is charged: its handling minutes, or default_ticket_minutes
   when they are unknown. #}
{% macro charged_minutes(handling_minutes) -%}
    coalesce({{ handling_minutes }}, {{ var('default_ticket_minutes') }})
{%- endmacro %}
