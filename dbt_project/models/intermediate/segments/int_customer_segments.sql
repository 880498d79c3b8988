-- One row per customer known on D: one label per CRM scheme (SPEC §5.1-5.11), each with a
-- *_reason that quotes the numbers that decided it. Each scheme is one list of rules in its own
-- model under schemes/ (first match, label and reason from the same rule); this table
-- materializes that chain of views. Every threshold is a var of dbt_project.yml ("Segments"
-- block); labels and descriptions are in seeds/segment_labels.
with schemes as (select * from {{ ref('int_segment_buying_centre_action') }}),

final as (
    select
        customer_id,
        as_of_date,
        role,
        role_reason,
        lifecycle,
        lifecycle_reason,
        satisfaction,
        satisfaction_reason,
        nps_group,
        nps_group_reason,
        r_score,
        f_score,
        m_score,
        rfm_segment,
        rfm_segment_reason,
        value_tier,
        value_tier_reason,
        loyalty_type,
        loyalty_driver,
        loyalty_type_reason,
        loyalty_ladder,
        loyalty_ladder_reason,
        ten_types,
        ten_types_reason,
        buying_centre_action,
        buying_centre_action_reason,
        coalesce(personality_tags, '') as personality_tags,
        coalesce(personality_reason, 'no rep tag and no derived type') as personality_reason,
        -- the numbers the treatments and offers read
        p_alive,
        clv_12m,
        potential_clv_12m,
        headroom_clv_12m,
        contribution,
        contribution_12m,
        revenue,
        revenue_12m
    from schemes
)

select * from final
