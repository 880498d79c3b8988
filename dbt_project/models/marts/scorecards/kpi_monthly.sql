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
{%- set window_days = var('window_12m_days') %}

with customers as (
    select * from {{ ref('int_scorecard_customers') }}
    where role = 'external'
),

orders as (
    select
        orders.order_date,
        orders.order_id,
        orders.has_purchase_line,
        orders.net_amount,
        orders.cogs,
        orders.return_lines,
        orders.net_shipping_cost
    from {{ ref('int_customer_orders') }} as orders
    inner join customers using (customer_id)
),

occasions as (
    select occasions.*
    from {{ ref('int_purchase_occasions') }} as occasions
    inner join customers using (customer_id)
),

money as (
    select
        cast(date_trunc('month', order_date) as date) as month,
        sum(net_amount) as revenue,
        sum(cogs) as cogs,
        count(distinct order_id) filter (where has_purchase_line) as orders,
        sum(return_lines) as return_lines,
        sum(net_shipping_cost) as net_shipping_cost
    from orders
    group by 1
),

tickets as (
    select tickets.*
    from {{ ref('stg_raw__tickets') }} as tickets
    inner join customers using (customer_id)
    where tickets.opened_date <= {{ as_of() }}
),

surveys as (
    select surveys.*
    from {{ ref('stg_raw__surveys') }} as surveys
    inner join customers using (customer_id)
    where surveys.responded_date <= {{ as_of() }}
),

-- The first month of orders comes from money: a second reader of orders would make DuckDB
-- materialize that join (~50M rows at 100M order lines) instead of streaming it.
first_event as (
    select min(event_date) as first_event_date
    from (
        select min(month) as event_date from money
        union all
        select min(opened_date) from tickets
        union all
        select min(responded_date) from surveys
    )
),

months as (
    select
        cast(series.month as date) as month,
        least(cast(last_day(series.month) as date), {{ as_of() }}) as month_end
    from generate_series(
        (select cast(date_trunc('month', first_event_date) as date) from first_event),
        cast(date_trunc('month', {{ as_of() }}) as date),
        interval 1 month
    ) as series(month)
),

-- Each occasion is the customer's latest from its date to the day before the next one. Over
-- that span the customer is active at the month ends up to window_days after the occasion, and
-- has 2+ occasions in the window while the previous occasion is within it too. One row per
-- customer and month end at most: a range join of spans, not of every occasion in a window.
-- The next occasion is kept for the expiries below.
spans as (
    select
        customer_id,
        occasion_date,
        lead(occasion_date) over latest as next_occasion_date,
        least(
            coalesce(lead(occasion_date) over latest - 1, {{ as_of() }}),
            occasion_date + ({{ window_days }} - 1)
        ) as active_until,
        lag(occasion_date) over latest + ({{ window_days }} - 1) as repeat_until
    from occasions
    window latest as (partition by customer_id order by occasion_date)
),

active as (
    select
        months.month,
        spans.customer_id,
        months.month_end <= spans.repeat_until as is_repeat
    from months
    inner join spans
        on months.month_end between spans.occasion_date and spans.active_until
),

activity as (
    select
        month,
        count(*) as active_customers,
        count(*) filter (where is_repeat) as repeat_customers
    from active
    group by month
),

-- Retained at a month end: active at the previous one and still active. A customer active at
-- the previous month end drops out only where the span covering it expires (no next occasion
-- within window_days) before this month end, with no new occasion by then. Counting those
-- expiries per span replaces a join of ~50M customer-months with themselves at 100M lines.
expiries as (
    select month, count(*) as customers
    from (
        select
            occasion_date,
            next_occasion_date,
            active_until,
            cast(date_trunc('month', active_until + 1) as date) as month,
            least(last_day(active_until + 1), {{ as_of() }}) as month_end
        from spans
    )
    where occasion_date < month  -- the span covers the previous month end ...
        and active_until < month_end  -- ... but not this one ...
        and coalesce(next_occasion_date, {{ as_of() }} + 1) > month_end  -- ... nor a new one
    group by month
),

retention as (
    select
        months.month,
        previous.active_customers as previously_active,
        previous.active_customers - coalesce(expiries.customers, 0) as retained_customers
    from months
    inner join activity as previous
        on previous.month = cast(months.month - interval 1 month as date)
    left join expiries on expiries.month = months.month
),

new_customers as (
    select cast(date_trunc('month', first_purchase_date) as date) as month, count(*) as customers
    from customers
    where first_purchase_date is not null
    group by 1
),

-- The silences after an occasion (the second or later) longer than lapse_min_days, with
-- their lapse threshold (SPEC §5.2 rules 4 and 5), of the external customers.
thresholds as (
    select thresholds.*
    from {{ ref('int_lapse_thresholds') }} as thresholds
    semi join customers using (customer_id)
),

-- Reborn: the occasion that ends such a silence, when the silence exceeds the threshold.
reborn as (
    select cast(date_trunc('month', next_occasion_date) as date) as month, count(*) as customers
    from thresholds
    where next_occasion_date - occasion_date > lapse_threshold_days
    group by 1
),

-- Lapsed at the month end: the last occasion before it is at least the second, the silence
-- since exceeds its threshold (in whole days: more than t days = at least floor(t) + 1), and it
-- does not exceed lost_days yet. A range join of each occasion's lapsed span.
lapsed_spans as (
    select
        customer_id,
        occasion_date + cast(floor(lapse_threshold_days) as integer) + 1 as lapsed_from,
        least(
            occasion_date + {{ var('lost_days') }},
            coalesce(next_occasion_date - 1, {{ as_of() }})
        ) as lapsed_until
    from thresholds
),

lapsed as (
    select months.month, count(*) as customers
    from months
    inner join lapsed_spans
        on months.month_end between lapsed_spans.lapsed_from and lapsed_spans.lapsed_until
    group by months.month
),

support as (
    select
        cast(date_trunc('month', opened_date) as date) as month,
        sum({{ charged_minutes('handling_minutes') }}) as handling_minutes
    from tickets
    group by 1
),

voice as (
    select
        cast(date_trunc('month', responded_date) as date) as month,
        count(nps_equivalent) as nps_responses,
        count(*) filter (where nps_equivalent > {{ var('passive_max_score') }}) as promoters,
        count(*) filter (where nps_equivalent <= {{ var('detractor_max_score') }}) as detractors,
        count(csat_score) as csat_responses,
        count(*) filter (where csat_score >= {{ var('csat_satisfied_min_score') }})
            as csat_satisfied
    from surveys
    group by 1
),

costed as (
    select
        months.month,
        coalesce(money.revenue, 0) as revenue,
        coalesce(money.revenue, 0) - coalesce(money.cogs, 0) as gross_margin,
        {{ cost_to_serve(
            'money.orders', 'money.return_lines', 'support.handling_minutes',
            'money.net_shipping_cost'
        ) }} as cost_to_serve,
        coalesce(money.orders, 0) as orders
    from months
    left join money using (month)
    left join support using (month)
),

final as (
    select
        {{ as_of() }} as as_of_date,
        months.month,
        months.month_end,
        months.month_end < cast(last_day(months.month) as date) as is_partial_month,
        coalesce(activity.active_customers, 0) as active_customers,
        coalesce(new_customers.customers, 0) as new_customers,
        activity.repeat_customers / nullif(activity.active_customers, 0)
            as repeat_purchase_rate,
        retention.retained_customers / nullif(retention.previously_active, 0)
            as retention_rate,
        1 - retention.retained_customers / nullif(retention.previously_active, 0)
            as churn_rate,
        coalesce(voice.nps_responses, 0) as nps_responses,
        100.0 * (voice.promoters - voice.detractors) / nullif(voice.nps_responses, 0) as nps,
        coalesce(voice.csat_responses, 0) as csat_responses,
        voice.csat_satisfied / nullif(voice.csat_responses, 0) as csat,
        costed.orders,
        cast(costed.revenue as decimal(18, 2)) as revenue,
        cast(costed.gross_margin as decimal(18, 2)) as gross_margin,
        cast(costed.cost_to_serve as decimal(18, 2)) as cost_to_serve,
        cast(costed.gross_margin - costed.cost_to_serve as decimal(18, 2)) as contribution,
        coalesce(lapsed.customers, 0) as lapsed_customers,
        coalesce(reborn.customers, 0) as reborn_customers
    from months
    left join activity using (month)
    left join retention using (month)
    left join new_customers using (month)
    left join voice using (month)
    left join costed using (month)
    left join lapsed using (month)
    left join reborn using (month)
)

select * from final
