{# Shares in [0, 1] that sum to 1 within each `group_by` group of the rows matching `where`
   (1e-9 for floating point). #}
{% test shares_sum_to_one(model, column_name, group_by, where='true') %}
with groups as (
    select
        {{ group_by | join(', ') }},
        sum({{ column_name }}) as total,
        count(*) filter (
            where {{ column_name }} is null or {{ column_name }} < 0 or {{ column_name }} > 1
        ) as out_of_range
    from {{ model }}
    where {{ where }}
    group by {{ group_by | join(', ') }}
)

select *
from groups
where abs(total - 1) > 1e-9 or out_of_range > 0
{% endtest %}
