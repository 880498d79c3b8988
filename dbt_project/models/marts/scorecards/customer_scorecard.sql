-- The customer scorecard (SPEC §7): one row per customer known on D, what a CRM imports — key
-- facts, every segment label with its reason, the recommended action with its reason and the
-- handling advice of the customer's personality types. No contact details: customer_id is the
-- key the CRM matches on (SPEC §1, Privacy).


-- "Type: advice" for each of the customer's types, in the seed's order, in one text.
with advice as (
    select
        personality.customer_id,
        {{ ordered_listagg(
            "personality_types.display_name || ': ' || personality.handling_advice",
            "' | '",
            'personality_types.sort_order'
        ) }} as handling_advice
    from {{ ref('int_customer_personality') }} as personality
    inner join {{ ref('personality_types') }} as personality_types using (personality_type)
    group by personality.customer_id
),

final as (
    select
        customers.customer_id,
        customers.as_of_date,
        -- who
        customers.role,
        customers.customer_kind,
        customers.region,
        customers.acquisition_channel,
        customers.signed_up_date,
        -- key facts
        customers.first_purchase_date,
        customers.last_purchase_date,
        customers.tenure_days,
        customers.recency_days,
        customers.occasions,
        customers.occasions_12m,
        customers.orders_12m,
        customers.revenue,
        customers.revenue_12m,
        customers.gross_margin_12m,
        customers.cost_to_serve_12m,
        customers.contribution_12m,
        customers.contribution,
        customers.return_rate_12m,
        customers.discount_share_12m,
        customers.complaints_12m,
        customers.last_nps_score,
        customers.referrals_12m,
        -- model
        customers.p_alive,
        customers.expected_occasions_12m,
        customers.clv_12m,
        -- labels and reasons
        reasons.role_reason,
        customers.lifecycle,
        reasons.lifecycle_reason,
        customers.satisfaction,
        reasons.satisfaction_reason,
        customers.nps_group,
        reasons.nps_group_reason,
        customers.r_score,
        customers.f_score,
        customers.m_score,
        customers.rfm_segment,
        reasons.rfm_segment_reason,
        customers.value_tier,
        reasons.value_tier_reason,
        customers.loyalty_type,
        customers.loyalty_driver,
        reasons.loyalty_type_reason,
        customers.loyalty_ladder,
        reasons.loyalty_ladder_reason,
        customers.ten_types,
        reasons.ten_types_reason,
        customers.personality_tags,
        reasons.personality_reason,
        -- the account's buying centre (SPEC §5.11): contacts per role and the action
        customers.contacts,
        customers.wallets,
        customers.allies,
        customers.internal_contacts,
        customers.windbags,
        customers.unknown_contacts,
        customers.has_wallet,
        customers.buying_centre_action,
        reasons.buying_centre_action_reason,
        -- treatment
        customers.action,
        actions.action_reason,
        advice.handling_advice
    from {{ ref('int_scorecard_customers') }} as customers
    inner join {{ ref('int_customer_segments') }} as reasons using (customer_id)
    inner join {{ ref('int_customer_actions') }} as actions using (customer_id)
    left join advice using (customer_id)
)

select * from final
