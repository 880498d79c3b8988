-- One row per customer known on D with the purchase facts of SPEC §3.
-- Money: merchandise lines of non-cancelled orders; returns subtract. Prospects (no purchase
-- occasion yet) have NULL purchase dates and gaps and zero counts and money.
with customers as (
    select * from {{ ref('int_customers') }}
),

occasions as (
    select * from {{ ref('int_purchase_occasions') }}
),

lines as (
    select * from {{ ref('int_order_lines') }}
    where customer_id is not null and is_merchandise
),

occasion_facts as (
    select
        customer_id,
        min(occasion_date) as first_purchase_date,
        max(occasion_date) as last_purchase_date,
        count(*) as occasions,
        count(*) filter (where occasion_date >= {{ window_start(var('window_12m_days')) }}) as occasions_12m,
        count(*) filter (where occasion_date >= {{ window_start(var('window_24m_days')) }}) as occasions_24m,
        median(gap_days) as median_gap_days,
        max(gap_days) as max_gap_days,
        arg_max(gap_days, occasion_date) as last_gap_days
    from occasions
    group by customer_id
),

line_facts as (
    select
        customer_id,
        count(distinct order_id) filter (where not is_cancelled and quantity > 0) as orders_count,
        count(distinct order_id) filter (
            where not is_cancelled and quantity > 0 and in_12m
        ) as orders_12m,
        count(distinct order_id) filter (where is_cancelled) as cancellations_count,
        sum(line_amount) filter (where not is_cancelled) as revenue,
        sum(line_amount) filter (where not is_cancelled and in_12m) as revenue_12m
    from lines
    group by customer_id
),

final as (
    select
        customers.customer_id,
        customers.signed_up_date,
        customers.known_since_date,
        customers.customer_kind,
        customers.is_employee,
        customers.acquisition_channel,
        customers.region,
        occasion_facts.first_purchase_date,
        occasion_facts.last_purchase_date,
        {{ as_of() }} - occasion_facts.first_purchase_date as tenure_days,
        {{ as_of() }} - occasion_facts.last_purchase_date as recency_days,
        coalesce(occasion_facts.occasions, 0) as occasions,
        coalesce(occasion_facts.occasions_12m, 0) as occasions_12m,
        coalesce(occasion_facts.occasions_24m, 0) as occasions_24m,
        coalesce(line_facts.orders_count, 0) as orders_count,
        coalesce(line_facts.orders_12m, 0) as orders_12m,
        coalesce(line_facts.cancellations_count, 0) as cancellations_count,
        occasion_facts.median_gap_days,
        occasion_facts.max_gap_days,
        occasion_facts.last_gap_days,
        cast(coalesce(line_facts.revenue, 0) as decimal(18, 2)) as revenue,
        cast(coalesce(line_facts.revenue_12m, 0) as decimal(18, 2)) as revenue_12m,
        {{ as_of() }} as as_of_date
    from customers
    left join occasion_facts using (customer_id)
    left join line_facts using (customer_id)
)

select * from final
