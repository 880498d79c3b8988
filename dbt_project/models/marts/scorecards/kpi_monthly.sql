-- Monthly KPIs (SPEC §7) of the external customers, one row per calendar month from the first
-- month with any event (order line, ticket or survey) up to D's month. A month's state is
-- taken at its end, or at D for D's (partial) month.
--   active: an occasion in the window_12m_days ending on the month end;
--   repeat_purchase_rate: of the active customers, the share with 2+ occasions in that window;
--   retention_rate: of the customers active at the previous month end, the share still active;
--   lapsed_customers: lapsed at the month end by the lifecycle rule (2+ occasions, silent for
--     more than max(lapse_min_days, lapse_gap_multiple × median gap so far), not yet lost);
--   reborn_customers: came back in the month after such a silence (the lifecycle's reborn);
--   nps / csat: from the month's survey answers (CSAT-only answers mapped onto the NPS scale as
--     everywhere else); money: the month's orders, cost to serve as in customer_facts, so the
--     months add up to the external customers' lifetime figures in customer_facts.
-- D's month is month-to-date unless D is its last day: is_partial_month, days_covered (days 1
-- to D) and month_label ('2026-12 MTD') say so, so nobody reads its counts and money as a
-- whole month's.
with months as (
    select
        *,
        month_end < {{ month_end('month') }} as is_partial_month
    from {{ ref('int_kpi_months') }}
),


costed as (
    select
        months.month,
        coalesce(money.revenue, 0) as revenue,
        coalesce(money.revenue, 0) - coalesce(money.cogs, 0) as gross_margin,
        {{ cost_to_serve(
            'money.orders', 'money.return_lines', 'money.handling_minutes',
            'money.net_shipping_cost'
        ) }} as cost_to_serve,
        coalesce(money.orders, 0) as orders
    from months
    left join {{ ref('int_monthly_money') }} as money using (month)
),

final as (
    select
        {{ as_of() }} as as_of_date,
        months.month,
        months.month_end,
        months.is_partial_month,
        cast(day(months.month_end) as integer) as days_covered,
        {{ year_month_label('months.month') }} || case when months.is_partial_month then ' MTD' else '' end
            as month_label,
        coalesce(activity.active_customers, 0) as active_customers,
        coalesce(activity.new_customers, 0) as new_customers,
        activity.repeat_customers / nullif(activity.active_customers, 0)
            as repeat_purchase_rate,
        activity.retained_customers / nullif(activity.previously_active, 0)
            as retention_rate,
        1 - activity.retained_customers / nullif(activity.previously_active, 0)
            as churn_rate,
        coalesce(voice.nps_responses, 0) as nps_responses,
        100.0 * cast(voice.promoters - voice.detractors as double) / nullif(voice.nps_responses, 0)
            as nps,
        coalesce(voice.csat_responses, 0) as csat_responses,
        voice.csat_satisfied / nullif(voice.csat_responses, 0) as csat,
        costed.orders,
        cast(costed.revenue as decimal(18, 2)) as revenue,
        cast(costed.gross_margin as decimal(18, 2)) as gross_margin,
        cast(costed.cost_to_serve as decimal(18, 2)) as cost_to_serve,
        cast(costed.gross_margin - costed.cost_to_serve as decimal(18, 2)) as contribution,
        coalesce(lapses.lapsed_customers, 0) as lapsed_customers,
        coalesce(lapses.reborn_customers, 0) as reborn_customers
    from months
    left join {{ ref('int_monthly_activity') }} as activity using (month)
    left join {{ ref('int_monthly_voice') }} as voice using (month)
    left join costed using (month)
    left join {{ ref('int_monthly_lapses') }} as lapses using (month)
)

select * from final
