-- The loyalty scorecard (SPEC §7): one row per (scheme, label) of the loyalty schemes
-- (var loyalty_scorecard_schemes) over the external customers, every label of the seed listed
-- (zero customers included), plus the `total` rows: `all` (every external customer) and
-- `internal` (employees, on their own line). Shares are of the external customers, so each
-- scheme's shares sum to 1; the internal row has none.
-- Retention: of the customers with an occasion in the 12m before the last 12m, the share
-- with an occasion in the last 12m. Repeat rate: of the purchasers, the share with 2+ occasions.
-- The buying-centre block: scheme buying_centre_action (SPEC §5.11), and on every row the
-- contacts of the label's accounts per role, which add up per scheme to contact_roles (NULL
-- everywhere when the contacts source is absent).
{%- set schemes = var('loyalty_scorecard_schemes') %}
{%- set contact_columns = ['contacts', 'wallets', 'allies', 'internal_contacts', 'windbags',
                           'unknown_contacts'] %}

with customer_labels as (
    {{ scorecard_customer_labels(ref('int_scorecard_customers'), schemes) }}
),

aggregated as (
    select
        scheme,
        label,
        count(*) as customers,
        count(*) filter (where occasions >= 1) as purchasers,
        count(*) filter (where occasions >= 2) as repeat_purchasers,
        count(*) filter (where occasions_24m - occasions_12m > 0) as active_prior_12m,
        count(*) filter (
            where occasions_24m - occasions_12m > 0 and occasions_12m > 0
        ) as retained_12m,
        avg(tenure_days) as mean_tenure_days,
        count(*) filter (where nps_group != 'none') as nps_respondents,
        count(*) filter (where nps_group = 'promoter') as promoters,
        count(*) filter (where nps_group = 'detractor') as detractors,
        avg(p_alive) as mean_p_alive,
        avg(clv_12m) as mean_clv_12m,
        sum(revenue_12m) as revenue_12m,
        cast(sum(referrals_12m) as bigint) as referrals_12m,
        {%- for column in contact_columns %}
        cast(sum({{ column }}) as bigint) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from customer_labels
    group by scheme, label
),

label_grid as (
    {{ scorecard_label_grid(ref('segment_labels'), schemes) }}
),

external_totals as (
    select
        customers as external_customers,
        revenue_12m as external_revenue_12m,
        contacts is not null as knows_contacts  -- NULL only without a contacts source
    from aggregated
    where scheme = 'total' and label = 'all'
),

final as (
    select
        {{ scorecard_label_columns() }},
        coalesce(aggregated.purchasers, 0) as purchasers,
        aggregated.repeat_purchasers / nullif(aggregated.purchasers, 0) as repeat_rate,
        aggregated.retained_12m / nullif(aggregated.active_prior_12m, 0) as retention_rate,
        aggregated.mean_tenure_days,
        coalesce(aggregated.nps_respondents, 0) as nps_respondents,
        100.0 * cast(aggregated.promoters - aggregated.detractors as double)
            / nullif(aggregated.nps_respondents, 0) as nps,
        aggregated.mean_p_alive,
        aggregated.mean_clv_12m,
        cast(coalesce(aggregated.revenue_12m, 0) as decimal(18, 2)) as revenue_12m,
        case
            when label_grid.label != 'internal'
                then cast(coalesce(aggregated.revenue_12m, 0) as double)
                    / nullif(cast(external_revenue_12m as double), 0)
        end as revenue_share,
        aggregated.referrals_12m,
        {%- for column in contact_columns %}
        case when knows_contacts then coalesce(aggregated.{{ column }}, 0) end
            as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from label_grid
    left join aggregated using (scheme, label)
    left join external_totals on true
)

select * from final
