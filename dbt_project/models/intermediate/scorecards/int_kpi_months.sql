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
        cast(series.month as date) as month,
        least(cast(last_day(series.month) as date), {{ as_of() }}) as month_end
    from generate_series(
        (select min(month) from events),
        cast(date_trunc('month', {{ as_of() }}) as date),
        interval 1 month
    ) as series(month)
)

select * from final
