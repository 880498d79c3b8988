{# A scheme's ladder as one list of rules, first match wins (SPEC §5-§6). Each rule is
   (condition, label, reason): a SQL condition, a label code and a SQL text expression saying
   why; the last rule's condition is usually `true`. Renders two columns from the one list, so a
   label and its reason cannot drift apart:
       case when c1 then 'label1' when c2 then 'label2' ... end as <column>,
       case when c1 then <reason1> when c2 then <reason2> ... end as <reason_column>
   `reason_column` defaults to <column>_reason. A rule may carry a fourth element, a mapping of
   further columns the same rule decides to their SQL values (e.g. {'loyalty_driver':
   "'discount'"}); each becomes a column too, NULL where the matching rule does not set it. #}
{% macro first_match(column, rules, reason_column=none) -%}
    {%- set decided = [] -%}
    {%- for rule in rules if rule | length > 3 -%}
        {%- for name in rule[3] if name not in decided -%}
            {%- do decided.append(name) -%}
        {%- endfor -%}
    {%- endfor -%}
    case
        {%- for rule in rules %}
        when {{ rule[0] }} then '{{ rule[1] }}'
        {%- endfor %}
    end as {{ column }},
    case
        {%- for rule in rules %}
        when {{ rule[0] }} then {{ rule[2] }}
        {%- endfor %}
    end as {{ reason_column or column ~ '_reason' }}
    {%- for name in decided %},
    case
        {%- for rule in rules %}
        {%- set value = rule[3][name] if rule | length > 3 and name in rule[3] else 'null' %}
        when {{ rule[0] }} then {{ value }}
        {%- endfor %}
    end as {{ name }}
    {%- endfor %}
{%- endmacro %}
