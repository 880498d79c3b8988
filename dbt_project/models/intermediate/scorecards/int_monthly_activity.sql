-- Per KPI month, the external customers' activity at its end: active (an occasion in the
-- window_12m_days ending on the month end), repeat (2+ occasions in that window), retained (of
-- those active at the previous month end, still active) and new (first occasion in the month).
{%- set window_days = var('window_12m_days') %}

with customers as (
    select customer_id, first_purchase_date from {{ ref('int_scorecard_customers') }}
    where role = 'external'
),

months as (select * from {{ ref('int_kpi_months') }}),

occasions as (
    select occasions.*
    from {{ ref('int_purchase_occasions') }} as occasions
    inner join customers using (customer_id)
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
            {{ month_start('active_until + 1') }} as month,
            least({{ month_end('active_until + 1') }}, {{ as_of() }}) as month_end
        from spans
    ) as spans_ending
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
        on previous.month = {{ add_months('months.month', -1) }}
    left join expiries on expiries.month = months.month
),

new_customers as (
    select {{ month_start('first_purchase_date') }} as month, count(*) as customers
    from customers
    where first_purchase_date is not null
    group by 1
),

final as (
    select
        months.month,
        activity.active_customers,
        activity.repeat_customers,
        retention.previously_active,
        retention.retained_customers,
        new_customers.customers as new_customers
    from months
    left join activity using (month)
    left join retention using (month)
    left join new_customers using (month)
)

select * from final
