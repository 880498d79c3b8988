-- One recommended action per customer (SPEC §6, "Interact and Customize"): the first rule
-- that matches, with the reason that decided it. action_priority is the rule's position in the
-- spec's list.
{%- set retain_max = var('retain_max_p_alive') %}
{%- set at_risk = "'value tier ' || value_tier || ' at risk: '" %}
{%- set rules = [
    ("satisfaction in ('angry', 'dissatisfied')", "service_recovery",
        "'satisfaction ' || satisfaction || ': ' || satisfaction_reason",
        {"action_priority": 1}),
    ("is_valuable and is_fading", "retain",
        at_risk ~ " || 'p_alive ' || " ~ seg_num('p_alive', 2) ~ " || ' < " ~ retain_max ~ "'",
        {"action_priority": 2}),
    ("is_valuable and is_rfm_at_risk", "retain",
        at_risk ~ " || 'RFM ' || rfm_segment || ' (' || rfm_segment_reason || ')'",
        {"action_priority": 2}),
    ("(ten_types = 'dormant' or lifecycle = 'lapsed') and contribution > 0", "win_back",
        "'lapsed with contribution ' || " ~ seg_num('contribution', 2)
        ~ " || ' > 0: ' || lifecycle_reason",
        {"action_priority": 3}),
    ("ten_types = 'let_go'", "reprice_or_release", "'let go: ' || ten_types_reason",
        {"action_priority": 4}),
    ("ten_types = 'draining'", "reduce_cost_to_serve", "'draining: ' || ten_types_reason",
        {"action_priority": 5}),
    ("value_tier = 'most_growable'", "grow", "'most growable: ' || value_tier_reason",
        {"action_priority": 6}),
    ("satisfaction in ('enthusiast', 'happy')", "ask_for_referral",
        "'satisfaction ' || satisfaction || ': ' || satisfaction_reason",
        {"action_priority": 7}),
    ("ten_types = 'devoted' or loyalty_type = 'true_loyalty'", "reward",
        "'devoted: ' || loyalty_type_reason",
        {"action_priority": 8}),
    ("lifecycle in ('new', 'one_time')", "onboard",
        "'lifecycle ' || lifecycle || ': ' || lifecycle_reason",
        {"action_priority": 9}),
    ("ten_types = 'desired'", "acquire", "'desired prospect: ' || ten_types_reason",
        {"action_priority": 10}),
    ("true", "none",
        "'no rule applies (lifecycle ' || lifecycle || ', value tier ' || value_tier"
        ~ " || ', ten type ' || ten_types || ', satisfaction ' || satisfaction || ')'",
        {"action_priority": 11}),
] %}

with segments as (select * from {{ ref('int_customer_segments') }}),

flagged as (
    select
        *,
        value_tier in ('most_valuable', 'most_growable') as is_valuable,
        coalesce(p_alive < {{ retain_max }}, false) as is_fading,
        rfm_segment in ('at_risk', 'cant_lose_them') as is_rfm_at_risk
    from segments
),

final as (
    select
        customer_id,
        as_of_date,
        {{ first_match('action', rules) }}
    from flagged
)

select * from final
