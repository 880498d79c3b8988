-- One recommended action per customer (SPEC §6, "Interact and Customize"), first match, with
-- the reason that decided it. action_priority is the rule's position in the list.
with segments as (
    select * from {{ ref('int_customer_segments') }}
),

rules as (
    select
        *,
        value_tier in ('most_valuable', 'most_growable') as is_valuable,
        coalesce(p_alive < {{ var('retain_max_p_alive') }}, false) as is_fading,
        rfm_segment in ('at_risk', 'cant_lose_them') as is_rfm_at_risk
    from segments
),

chosen as (
    select
        *,
        case
            when satisfaction in ('angry', 'dissatisfied') then 1
            when is_valuable and (is_fading or is_rfm_at_risk) then 2
            when (ten_types = 'dormant' or lifecycle = 'lapsed') and contribution > 0 then 3
            when ten_types = 'let_go' then 4
            when ten_types = 'draining' then 5
            when value_tier = 'most_growable' then 6
            when satisfaction in ('enthusiast', 'happy') then 7
            when ten_types = 'devoted' or loyalty_type = 'true_loyalty' then 8
            when lifecycle in ('new', 'one_time') then 9
            when ten_types = 'desired' then 10
            else 11
        end as action_priority
    from rules
),

final as (
    select
        customer_id,
        as_of_date,
        case action_priority
            when 1 then 'service_recovery'
            when 2 then 'retain'
            when 3 then 'win_back'
            when 4 then 'reprice_or_release'
            when 5 then 'reduce_cost_to_serve'
            when 6 then 'grow'
            when 7 then 'ask_for_referral'
            when 8 then 'reward'
            when 9 then 'onboard'
            when 10 then 'acquire'
            else 'none'
        end as action,
        case action_priority
            when 1 then 'satisfaction ' || satisfaction || ': ' || satisfaction_reason
            when 2 then
                'value tier ' || value_tier || ' at risk: '
                || case
                    when is_fading then
                        'p_alive ' || {{ seg_num('p_alive', 2) }}
                        || ' < {{ var("retain_max_p_alive") }}'
                    else 'RFM ' || rfm_segment || ' (' || rfm_segment_reason || ')'
                end
            when 3 then
                'lapsed with contribution ' || {{ seg_num('contribution', 2) }} || ' > 0: '
                || lifecycle_reason
            when 4 then 'let go: ' || ten_types_reason
            when 5 then 'draining: ' || ten_types_reason
            when 6 then 'most growable: ' || value_tier_reason
            when 7 then 'satisfaction ' || satisfaction || ': ' || satisfaction_reason
            when 8 then 'devoted: ' || loyalty_type_reason
            when 9 then 'lifecycle ' || lifecycle || ': ' || lifecycle_reason
            when 10 then 'desired prospect: ' || ten_types_reason
            else
                'no rule applies (lifecycle ' || lifecycle || ', value tier ' || value_tier
                || ', ten type ' || ten_types || ', satisfaction ' || satisfaction || ')'
        end as action_reason,
        action_priority
    from chosen
)

select * from final
