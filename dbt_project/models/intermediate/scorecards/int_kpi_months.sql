-- The months of the monthly KPIs: every calendar month from the first with an order line,
-- ticket or survey answer of an external customer up to D's month, with the day its state is
-- taken: the month's last day, or D in D's (partial) month.
with events as (
    select month from {{ ref('int_monthly_money') }}
    union all
    select month from {{ ref('int_monthly_voice') }}
),

final as (
    select
        series.month,
        least({{ month_end('series.month') }}, {{ as_of() }}) as month_end
    from {{ calendar_months(
        '(select min(month) from events)', month_start(as_of())
    ) }} as series
)

select * from final
