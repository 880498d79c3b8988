-- One row per customer known on D with every number a segment rule reads (SPEC §5): the
-- customer facts, the CLV model's p_alive and clv_12m (NULL without a model row), the latest
-- voice, the latest comeback, the RFM scores, the peer benchmarks, the personality types and
-- the account's buying centre (contacts per role).
-- customer_segments applies the rules to this table only, so its unit tests mock one input.
with personality_tags as (
    select
        customer_id,
        {{ ordered_listagg('personality_type', "', '", 'personality_type') }}
            as personality_tags,
        {{ ordered_listagg("personality_type || ': ' || personality_reason", "'; '",
                           'personality_type') }} as personality_reason
    from {{ ref('int_customer_personality') }} as personality
    group by customer_id
),

final as (
    select
        facts.customer_id,
        facts.as_of_date,
        facts.is_employee,
        facts.customer_kind,
        facts.acquisition_channel,
        facts.region,
        facts.signed_up_date,
        facts.first_purchase_date,
        facts.last_purchase_date,
        facts.tenure_days,
        facts.recency_days,
        facts.occasions,
        facts.occasions_24m,
        facts.orders_12m,
        facts.median_gap_days,
        facts.revenue,
        facts.revenue_12m,
        facts.contribution,
        facts.contribution_12m,
        facts.discount_share_12m,
        facts.complaints_12m,
        facts.referrals_12m,
        cast(clv.p_alive as double) as p_alive,
        cast(clv.clv_12m as double) as clv_12m,
        voice.voice_kind,
        voice.voice_at,
        voice.voice_score,
        voice.voice_from_csat,
        voice.complaint_severity,
        voice.nps_at,
        voice.nps_score,
        voice.nps_from_csat,
        comebacks.comeback_date,
        comebacks.comeback_days_ago,
        comebacks.comeback_gap_days,
        comebacks.prior_median_gap_days,
        comebacks.lapse_threshold_days as comeback_threshold_days,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        peers.peer_group,
        peers.peer_customers,
        peers.potential_clv_12m,
        peers.lookalike_group,
        peers.lookalike_customers,
        peers.lookalike_clv_12m,
        personality_tags.personality_tags,
        personality_tags.personality_reason,
        buying_centre.contacts,
        buying_centre.wallets,
        buying_centre.allies,
        buying_centre.internal_contacts,
        buying_centre.windbags,
        buying_centre.unknown_contacts,
        buying_centre.active_wallets,
        buying_centre.active_allies,
        buying_centre.last_wallet_date
    from {{ ref('int_customer_facts') }} as facts
    left join {{ source('model', 'customer_clv') }} as clv using (customer_id)
    left join {{ ref('int_segment_voice') }} as voice using (customer_id)
    left join {{ ref('int_segment_comebacks') }} as comebacks using (customer_id)
    left join {{ ref('int_segment_rfm') }} as rfm using (customer_id)
    left join {{ ref('int_segment_peers') }} as peers using (customer_id)
    left join personality_tags using (customer_id)
    left join {{ ref('int_account_buying_centre') }} as buying_centre using (customer_id)
)

select * from final
