-- One row per customer known on D with everything the scorecards read: the customer facts,
-- every segment label, the recommended action, the CLV model's outputs and the account's
-- contacts per buying-centre role. The scorecards
-- aggregate this table only, so their totals come from one join of the facts. The reason texts
-- (about 1 KB per customer) are left to customer_scorecard, their only reader here.
with facts as (select * from {{ ref('int_customer_facts') }}),
segments as (select * from {{ ref('int_customer_segments') }}),
actions as (select * from {{ ref('int_customer_actions') }}),
clv as (select * from {{ source('model', 'customer_clv') }}),
buying_centre as (select * from {{ ref('int_account_buying_centre') }}),

final as (
    select
        facts.*,
        segments.role,
        segments.lifecycle,
        segments.satisfaction,
        segments.nps_group,
        segments.r_score,
        segments.f_score,
        segments.m_score,
        segments.rfm_segment,
        segments.value_tier,
        segments.loyalty_type,
        segments.loyalty_driver,
        segments.loyalty_ladder,
        segments.ten_types,
        segments.personality_tags,
        segments.buying_centre_action,
        buying_centre.contacts,
        buying_centre.wallets,
        buying_centre.allies,
        buying_centre.internal_contacts,
        buying_centre.windbags,
        buying_centre.unknown_contacts,
        buying_centre.has_wallet,
        actions.action,
        cast(clv.p_alive as double) as p_alive,
        cast(clv.expected_occasions_12m as double) as expected_occasions_12m,
        cast(clv.expected_value_per_occasion as double) as expected_value_per_occasion,
        cast(clv.clv_12m as double) as clv_12m
    from facts
    inner join segments using (customer_id)
    inner join actions using (customer_id)
    left join clv using (customer_id)
    left join buying_centre using (customer_id)
)

select * from final
