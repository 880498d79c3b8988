-- One row per customer known on D with every fact of SPEC §3.
-- Prospects (no purchase occasion yet) have NULL purchase dates and gaps, zero counts and money.
-- Facts that depend on an absent optional source (tickets, surveys, customers) are NULL.
with occasion_facts as (
    select
        customer_id,
        min(occasion_date) as first_purchase_date,
        max(occasion_date) as last_purchase_date,
        count(*) as occasions,
        count(*) filter (
            where occasion_date >= {{ window_start(var('window_12m_days')) }}
        ) as occasions_12m,
        count(*) filter (
            where occasion_date >= {{ window_start(var('window_24m_days')) }}
        ) as occasions_24m,
        median(gap_days) as median_gap_days,
        max(gap_days) as max_gap_days,
        {{ max_by('gap_days', 'occasion_date') }} as last_gap_days
    from {{ ref('int_purchase_occasions') }} as occasions
    group by customer_id
),

joined as (
    select
        customers.*,
        occasion_facts.first_purchase_date,
        occasion_facts.last_purchase_date,
        occasion_facts.occasions,
        occasion_facts.occasions_12m,
        occasion_facts.occasions_24m,
        occasion_facts.median_gap_days,
        occasion_facts.max_gap_days,
        occasion_facts.last_gap_days,
        money.orders_count,
        money.orders_12m,
        money.cancellations_count,
        money.revenue,
        money.revenue_12m,
        money.gross_sales_12m,
        money.discounted_sales_12m,
        money.returns_value_12m,
        money.return_lines,
        money.return_lines_12m,
        money.cogs,
        money.cogs_12m,
        money.cost_basis,
        money.net_shipping_cost,
        money.net_shipping_cost_12m,
        support.tickets_12m,
        support.complaints_12m,
        support.high_severity_complaints_90d,
        support.handling_minutes_12m,
        support.handling_minutes,
        voice.last_nps_score,
        voice.last_nps_at,
        voice.last_nps_from_csat,
        voice.csat_avg_12m,
        voice.responses_12m,
        referrals.referrals_count,
        referrals.referrals_12m,
        presence.*
    from {{ ref('int_customers') }} as customers
    left join occasion_facts using (customer_id)
    left join {{ ref('int_customer_money') }} as money using (customer_id)
    left join {{ ref('int_customer_support') }} as support using (customer_id)
    left join {{ ref('int_customer_voice') }} as voice using (customer_id)
    left join {{ ref('int_customer_referrals') }} as referrals using (customer_id)
    cross join {{ ref('int_source_presence') }} as presence
),

costed as (
    select
        *,
        {{ cost_to_serve(
            'orders_12m', 'return_lines_12m', 'handling_minutes_12m', 'net_shipping_cost_12m'
        ) }} as cost_to_serve_12m_raw,
        {{ cost_to_serve('orders_count', 'return_lines', 'handling_minutes', 'net_shipping_cost') }}
            as cost_to_serve_raw
    from joined
),

final as (
    select
        customer_id,
        {{ as_of() }} as as_of_date,
        -- who
        customer_kind,
        is_employee,
        acquisition_channel,
        region,
        signed_up_date,
        -- purchase pattern
        first_purchase_date,
        last_purchase_date,
        {{ days_between(as_of(), 'first_purchase_date') }} as tenure_days,
        {{ days_between(as_of(), 'last_purchase_date') }} as recency_days,
        coalesce(occasions, 0) as occasions,
        coalesce(occasions_12m, 0) as occasions_12m,
        coalesce(occasions_24m, 0) as occasions_24m,
        coalesce(orders_count, 0) as orders_count,
        coalesce(orders_12m, 0) as orders_12m,
        coalesce(cancellations_count, 0) as cancellations_count,
        median_gap_days,
        max_gap_days,
        last_gap_days,
        -- money
        cast(coalesce(revenue, 0) as decimal(18, 2)) as revenue,
        cast(coalesce(revenue_12m, 0) as decimal(18, 2)) as revenue_12m,
        cast(coalesce(gross_sales_12m, 0) as decimal(18, 2)) as gross_sales_12m,
        cast(coalesce(returns_value_12m, 0) as decimal(18, 2)) as returns_value_12m,
        cast(returns_value_12m as double) / nullif(cast(gross_sales_12m as double), 0)
            as return_rate_12m,
        cast(discounted_sales_12m as double) / nullif(cast(gross_sales_12m as double), 0)
            as discount_share_12m,
        cast(coalesce(cogs_12m, 0) as decimal(18, 2)) as cogs_12m,
        cost_basis,
        cast(coalesce(revenue_12m, 0) - coalesce(cogs_12m, 0) as decimal(18, 2)) as gross_margin_12m,
        cast(coalesce(revenue, 0) - coalesce(cogs, 0) as decimal(18, 2)) as gross_margin,
        coalesce(return_lines_12m, 0) as return_lines_12m,
        -- service
        case when has_tickets then coalesce(tickets_12m, 0) end as tickets_12m,
        case when has_tickets then coalesce(complaints_12m, 0) end as complaints_12m,
        case when has_tickets then coalesce(high_severity_complaints_90d, 0) end
            as high_severity_complaints_90d,
        case when has_tickets then coalesce(handling_minutes_12m, 0) end as handling_minutes_12m,
        cast(cost_to_serve_12m_raw as decimal(18, 2)) as cost_to_serve_12m,
        cast(
            coalesce(revenue_12m, 0) - coalesce(cogs_12m, 0) - cost_to_serve_12m_raw
            as decimal(18, 2)
        ) as contribution_12m,
        cast(coalesce(revenue, 0) - coalesce(cogs, 0) - cost_to_serve_raw as decimal(18, 2))
            as contribution,
        -- voice of the customer
        last_nps_score,
        last_nps_at,
        last_nps_from_csat,
        csat_avg_12m,
        case when has_surveys then coalesce(responses_12m, 0) end as responses_12m,
        -- referrals
        case when has_customers then coalesce(referrals_count, 0) end as referrals_count,
        case when has_customers then coalesce(referrals_12m, 0) end as referrals_12m
    from costed
)

select * from final
