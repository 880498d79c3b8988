{# Totals reconcile (SPEC §7): the sum of `column_name` over the model's rows matching `where`
   (per value of `group_by`, when given) equals exactly the sum of `facts_column` over the
   `facts` rows matching `facts_where`. Exact: money columns are decimals, so "to the cent".
   A sum over no rows is 0 on both sides, so a zero row reconciles with no matching facts
   (e.g. the internal row when nobody is flagged an employee). #}
{% test sums_to_fact_total(model, column_name, facts, facts_column, where='true',
                           facts_where='true', group_by=none) %}
with model_sums as (
    select
        {{ (group_by | join(', ') ~ ',') if group_by else '' }}
        coalesce(sum({{ column_name }}), 0) as model_total
    from {{ model }}
    where {{ where }}
    {{ ('group by ' ~ (group_by | join(', '))) if group_by else '' }}
),

fact_total as (
    select coalesce(sum({{ facts_column }}), 0) as fact_total
    from {{ facts }}
    where {{ facts_where }}
)

select *
from model_sums
cross join fact_total
where model_total is distinct from fact_total
{% endtest %}
