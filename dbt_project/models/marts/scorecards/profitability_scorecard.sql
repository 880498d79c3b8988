-- The profitability scorecard (SPEC §7): one row per (scheme, label) of the value schemes
-- (var profitability_scorecard_schemes: value tier, RFM segment, ten types) over the external
-- customers, every label of the seed listed, plus the `total` rows `all` (external customers)
-- and `internal`. Money is over the last 12m and sums exactly (to the cent) to customer_facts.
-- contribution_share is of the external customers' contribution_12m: it sums to 1 per scheme
-- and is negative for labels that lose money (and above 1 for the others when some do).
{%- set schemes = var('profitability_scorecard_schemes') %}

with customer_labels as (
    {{ scorecard_customer_labels(ref('int_scorecard_customers'), schemes) }}
),

aggregated as (
    select
        scheme,
        label,
        count(*) as customers,
        sum(revenue_12m) as revenue_12m,
        sum(gross_margin_12m) as gross_margin_12m,
        sum(cost_to_serve_12m) as cost_to_serve_12m,
        sum(contribution_12m) as contribution_12m,
        avg(clv_12m) as mean_clv_12m
    from customer_labels
    group by scheme, label
),

label_grid as (
    {{ scorecard_label_grid(ref('segment_labels'), schemes) }}
),

external_totals as (
    select customers as external_customers, contribution_12m as external_contribution_12m
    from aggregated
    where scheme = 'total' and label = 'all'
),

final as (
    select
        {{ scorecard_label_columns() }},
        cast(coalesce(aggregated.revenue_12m, 0) as decimal(18, 2)) as revenue_12m,
        cast(coalesce(aggregated.gross_margin_12m, 0) as decimal(18, 2)) as gross_margin_12m,
        cast(coalesce(aggregated.cost_to_serve_12m, 0) as decimal(18, 2)) as cost_to_serve_12m,
        cast(coalesce(aggregated.contribution_12m, 0) as decimal(18, 2)) as contribution_12m,
        case
            when label_grid.label != 'internal'
                then cast(coalesce(aggregated.contribution_12m, 0) as double)
                    / nullif(cast(external_contribution_12m as double), 0)
        end as contribution_share,
        aggregated.mean_clv_12m
    from label_grid
    left join aggregated using (scheme, label)
    left join external_totals on true
)

select * from final
