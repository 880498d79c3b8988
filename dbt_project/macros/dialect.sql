{# What DuckDB and Spark spell differently, one macro each with an implementation per engine
   (adapter.dispatch): the models call these and stay one copy for both engines. Where a
   construct has a portable spelling (a window in a subquery instead of QUALIFY, an explicit
   column list instead of `* exclude`), the models use that instead of a macro. #}

{# Whole days from `earlier` to `later` (dates): DuckDB subtracts dates to an integer, Spark
   to an interval. #}
{% macro days_between(later, earlier) -%}
    {{ return(adapter.dispatch('days_between', 'clientele')(later, earlier)) }}
{%- endmacro %}
{% macro default__days_between(later, earlier) -%}
    ({{ later }} - {{ earlier }})
{%- endmacro %}
{% macro spark__days_between(later, earlier) -%}
    datediff({{ later }}, {{ earlier }})
{%- endmacro %}

{# The value of `value` on the row with the largest `order` (a list of expressions compared in
   turn, so ties are broken by the next one). #}
{% macro max_by(value, order) -%}
    {{ return(adapter.dispatch('max_by', 'clientele')(value, order)) }}
{%- endmacro %}
{% macro default__max_by(value, order) -%}
    arg_max({{ value }}, {% if order is string %}{{ order }}{% else %}({{ order | join(', ') }}){% endif %})
{%- endmacro %}
{% macro spark__max_by(value, order) -%}
    max_by({{ value }}, {% if order is string %}{{ order }}{% else %}struct({{ order | join(', ') }}){% endif %})
{%- endmacro %}

{# The first day of the month of a date, as a date. #}
{% macro month_start(day) -%}
    {{ return(adapter.dispatch('month_start', 'clientele')(day)) }}
{%- endmacro %}
{% macro default__month_start(day) -%}
    cast(date_trunc('month', {{ day }}) as date)
{%- endmacro %}
{% macro spark__month_start(day) -%}
    trunc({{ day }}, 'MM')
{%- endmacro %}

{# The last day of the month of a date, as a date (both engines call it last_day). #}
{% macro month_end(day) -%}
    cast(last_day({{ day }}) as date)
{%- endmacro %}

{# A date moved by whole months (the end of a shorter month clamps, on both engines). #}
{% macro add_months(day, months) -%}
    {{ return(adapter.dispatch('add_months', 'clientele')(day, months)) }}
{%- endmacro %}
{% macro default__add_months(day, months) -%}
    cast({{ day }} + to_months(cast({{ months }} as integer)) as date)
{%- endmacro %}
{% macro spark__add_months(day, months) -%}
    add_months({{ day }}, {{ months }})
{%- endmacro %}

{# The text type for casts (DuckDB: varchar; Spark: string). #}
{% macro text_type() -%}
    {{ return(adapter.dispatch('text_type', 'clientele')()) }}
{%- endmacro %}
{% macro default__text_type() -%}varchar{%- endmacro %}
{% macro spark__text_type() -%}string{%- endmacro %}

{# The keyword that keeps a CTE read several times from being materialized: DuckDB's
   `as not materialized`; Spark has no such hint (and never materializes a CTE). #}
{% macro cte_not_materialized() -%}
    {{ return(adapter.dispatch('cte_not_materialized', 'clientele')()) }}
{%- endmacro %}
{% macro default__cte_not_materialized() -%}not materialized{%- endmacro %}
{% macro spark__cte_not_materialized() -%}{%- endmacro %}

{# The sign of a number as an integer (-1, 0, 1): Spark's sign() returns a double, which would
   turn decimal money into a double. #}
{% macro int_sign(value) -%}
    {{ return(adapter.dispatch('int_sign', 'clientele')(value)) }}
{%- endmacro %}
{% macro default__int_sign(value) -%}
    sign({{ value }})
{%- endmacro %}
{% macro spark__int_sign(value) -%}
    cast(sign({{ value }}) as integer)
{%- endmacro %}

{# A relation (subquery, to be aliased by the caller) with one column `month`: the first day of
   every calendar month from `first_month` to `last_month` (both month starts, dates). #}
{% macro calendar_months(first_month, last_month) -%}
    {{ return(adapter.dispatch('calendar_months', 'clientele')(first_month, last_month)) }}
{%- endmacro %}
{% macro default__calendar_months(first_month, last_month) -%}
    (
        select cast(series.month as date) as month
        from generate_series({{ first_month }}, {{ last_month }}, interval 1 month) as series(month)
    )
{%- endmacro %}
{% macro spark__calendar_months(first_month, last_month) -%}
    (select explode(sequence({{ first_month }}, {{ last_month }}, interval 1 month)) as month)
{%- endmacro %}

{# Whole calendar months from `earlier` to `later` (both month starts), as an integer. #}
{% macro whole_months_between(later, earlier) -%}
    {{ return(adapter.dispatch('whole_months_between', 'clientele')(later, earlier)) }}
{%- endmacro %}
{% macro default__whole_months_between(later, earlier) -%}
    cast(datediff('month', {{ earlier }}, {{ later }}) as integer)
{%- endmacro %}
{% macro spark__whole_months_between(later, earlier) -%}
    cast(months_between({{ later }}, {{ earlier }}) as integer)
{%- endmacro %}

{# A date as 'YYYY-MM' text. #}
{% macro year_month_label(day) -%}
    {{ return(adapter.dispatch('year_month_label', 'clientele')(day)) }}
{%- endmacro %}
{% macro default__year_month_label(day) -%}
    strftime({{ day }}, '%Y-%m')
{%- endmacro %}
{% macro spark__year_month_label(day) -%}
    date_format({{ day }}, 'yyyy-MM')
{%- endmacro %}

{# The non-NULL values of `measure` joined by `delimiter` (a SQL text literal) in the order of
   `order_by` (one SQL expression, ascending); NULL when there are none. DuckDB: dbt's listagg
   (string_agg ... order by). Spark's collect_list has no order: the values are collected with
   their sort key, sorted, then joined. #}
{% macro ordered_listagg(measure, delimiter, order_by) -%}
    {{ return(adapter.dispatch('ordered_listagg', 'clientele')(measure, delimiter, order_by)) }}
{%- endmacro %}
{% macro default__ordered_listagg(measure, delimiter, order_by) -%}
    {{ listagg(measure, delimiter, 'order by ' ~ order_by) }}
{%- endmacro %}
{% macro spark__ordered_listagg(measure, delimiter, order_by) -%}
    case when count({{ measure }}) > 0 then array_join(
        transform(
            array_sort(collect_list(
                case when {{ measure }} is not null
                    then named_struct('k', {{ order_by }}, 'v', {{ measure }}) end
            )),
            item -> item.v
        ),
        {{ delimiter }}
    ) end
{%- endmacro %}
