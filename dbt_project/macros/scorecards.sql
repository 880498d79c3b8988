{# Helpers of the scorecard marts (models/marts, SPEC §7): the long (scheme, label) shape that
   loyalty_scorecard and profitability_scorecard aggregate. #}

{# One row per (customer, scheme) with the customer's label in each of `schemes` (external
   customers only), plus the `total` scheme: label `all` for every external customer and
   `internal` for the internal ones. `customers` is a relation with role and one column per scheme. #}
{% macro scorecard_customer_labels(customers, schemes) -%}
    {%- for scheme in schemes %}
    select '{{ scheme }}' as scheme, {{ scheme }} as label, *
    from {{ customers }}
    where role = 'external'
    union all
    {%- endfor %}
    select
        'total' as scheme,
        case when role = 'internal' then 'internal' else 'all' end as label,
        *
    from {{ customers }}
{%- endmacro %}

{# Every label of `schemes` from the segment_labels seed (so a label nobody holds still shows
   as a zero row), plus the two `total` rows. `labels` is the seed. #}
{% macro scorecard_label_grid(labels, schemes) -%}
    select scheme, label, display_name, sort_order
    from {{ labels }}
    where scheme in (
        {%- for scheme in schemes %}'{{ scheme }}'{{ ', ' if not loop.last }}{% endfor -%}
    )
    union all
    select 'total', 'all', 'All external customers', 1
    union all
    select 'total', 'internal', 'Internal customers', 2
{%- endmacro %}

{# The leading columns of a scorecard row: D, the label, its customers and their share of the
   external customers (NULL on the internal row, so each scheme's shares sum to 1). Selected from
   `label_grid` left-joined to `aggregated`, with `external_customers` in scope. #}
{% macro scorecard_label_columns() -%}
        {{ as_of() }} as as_of_date,
        label_grid.scheme,
        label_grid.label,
        label_grid.display_name,
        label_grid.sort_order,
        coalesce(aggregated.customers, 0) as customers,
        case
            when label_grid.label != 'internal'
                then coalesce(aggregated.customers, 0) / nullif(external_customers, 0)
        end as share
{%- endmacro %}

{# 100 × part / total as a double, NULL unless the total is positive: a percentage of a total
   that is zero or negative means nothing (the whale curve's contribution can be). #}
{% macro pct_of_positive_total(part, total) -%}
    case when {{ total }} > 0 then
        100.0 * cast({{ part }} as double) / cast({{ total }} as double)
    end
{%- endmacro %}
