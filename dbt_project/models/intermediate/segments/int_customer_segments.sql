-- One row per customer known on D: one label per CRM scheme (SPEC §5.1-5.10), each with a
-- *_reason that quotes the numbers that decided it. Schemes are evaluated in the spec's order
-- (later schemes read earlier labels); rules inside a scheme are first-match. Every threshold is
-- a var of dbt_project.yml ("Segments" block); labels and descriptions are in seeds/segment_labels.
{%- set new_days = var('new_days') %}
{%- set lost_days = var('lost_days') %}
{%- set one_time_lost_days = var('one_time_lost_days') %}
{%- set lapse_min_days = var('lapse_min_days') %}
{%- set lapse_gap_multiple = var('lapse_gap_multiple') %}
{%- set loyal_min_occasions = var('loyal_min_occasions_24m') %}
{%- set loyal_min_tenure = var('loyal_min_tenure_days') %}
{%- set active_days = var('active_days') %}
{%- set voice_days = var('voice_window_days') %}
{%- set angry_max = var('angry_max_score') %}
{%- set detractor_max = var('detractor_max_score') %}
{%- set passive_max = var('passive_max_score') %}
{%- set min_referrals = var('referrer_min_referrals_12m') %}
{%- set mvc_share = var('mvc_share') %}
{%- set headroom_share = var('growable_headroom_share') %}
{%- set min_p_alive = var('growable_min_p_alive') %}
{%- set min_f_score = var('loyalty_min_f_score') %}
{%- set discount_share = var('spurious_discount_share') %}
{%- set partner_tenure = var('partner_min_tenure_days') %}
{%- set let_go_tenure = var('let_go_min_tenure_days') %}
{%- set min_m_score = var('disappointed_min_m_score') %}
{%- set lookalike_share = var('desired_lookalike_share') %}
{%- set potential_pct = (var('growable_potential_quantile') * 100) | round | int %}

with inputs as (
    select * from {{ ref('int_segment_inputs') }}
),

-- The numbers the reasons quote, as text ('unknown' when NULL), and the lapse threshold.
quoted as (
    select
        *,
        {{ lapse_threshold_days('median_gap_days') }} as lapse_threshold_days,
        {{ seg_num('recency_days') }} || 'd' as recency_txt,
        {{ seg_num('tenure_days') }} || 'd' as tenure_txt,
        {{ seg_num('occasions') }} as occasions_txt,
        {{ seg_num('occasions_24m') }} as occasions_24m_txt,
        {{ seg_num('coalesce(referrals_12m, 0)') }} as referrals_txt,
        {{ seg_num('contribution_12m', 2) }} as contribution_txt,
        {{ seg_num('clv_12m', 2) }} as clv_txt,
        {{ seg_num('p_alive', 2) }} as p_alive_txt,
        case when nps_from_csat then 'CSAT mapped to ' else 'NPS ' end
            || {{ seg_num('nps_score') }} || ' on ' || {{ seg_date('cast(nps_at as date)') }}
            as nps_txt,
        case voice_kind
            when 'survey' then
                case when voice_from_csat then 'CSAT mapped to ' else 'NPS ' end
                || {{ seg_num('voice_score') }} || ' on '
                || {{ seg_date('cast(voice_at as date)') }}
            when 'complaint' then
                complaint_severity || '-severity complaint on '
                || {{ seg_date('cast(voice_at as date)') }}
        end as voice_txt
    from inputs
),

-- 5.1 Customer role
role as (
    select
        *,
        case when is_employee then 'internal' else 'external' end as role,
        case
            when is_employee then 'is_employee = true'
            when is_employee is null then 'is_employee unknown: treated as external'
            else 'is_employee = false'
        end as role_reason
    from quoted
),

-- 5.2 Lifecycle
lifecycle as (
    select
        *,
        case
            when occasions = 0 then 'prospect'
            when tenure_days < {{ new_days }} then 'new'
            when recency_days > {{ lost_days }}
                or (occasions = 1 and recency_days > {{ one_time_lost_days }}) then 'lost'
            when occasions >= 2 and recency_days > lapse_threshold_days then 'lapsed'
            when comeback_date is not null then 'reborn'
            when occasions_24m >= {{ loyal_min_occasions }}
                and tenure_days >= {{ loyal_min_tenure }} then 'loyal'
            when occasions >= 2 then 'repeat'
            else 'one_time'
        end as lifecycle,
        case
            when occasions = 0 then
                'no purchase occasion by D (signed up ' || {{ seg_date('signed_up_date') }} || ')'
            when tenure_days < {{ new_days }} then
                'first occasion ' || {{ seg_date('first_purchase_date') }} || ': tenure '
                || tenure_txt || ' < new_days {{ new_days }}'
            when recency_days > {{ lost_days }} then
                'recency ' || recency_txt || ' > lost_days {{ lost_days }}'
            when occasions = 1 and recency_days > {{ one_time_lost_days }} then
                'one occasion, recency ' || recency_txt
                || ' > one_time_lost_days {{ one_time_lost_days }}'
            when occasions >= 2 and recency_days > lapse_threshold_days then
                'recency ' || recency_txt || ' > max({{ lapse_min_days }}d, '
                || '{{ lapse_gap_multiple }} × median gap ' || {{ seg_num('median_gap_days', 1) }}
                || 'd) = ' || {{ seg_num('lapse_threshold_days', 1) }} || 'd'
            when comeback_date is not null then
                'came back ' || {{ seg_date('comeback_date') }} || ' ('
                || {{ seg_num('comeback_days_ago') }} || 'd ago < {{ var("reborn_window_days") }}d)'
                || ' after a ' || {{ seg_num('comeback_gap_days') }} || 'd gap > max('
                || '{{ lapse_min_days }}d, {{ lapse_gap_multiple }} × prior median gap '
                || {{ seg_num('prior_median_gap_days', 1) }} || 'd) = '
                || {{ seg_num('comeback_threshold_days', 1) }} || 'd'
            when occasions_24m >= {{ loyal_min_occasions }}
                and tenure_days >= {{ loyal_min_tenure }} then
                'occasions_24m ' || occasions_24m_txt || ' ≥ {{ loyal_min_occasions }}'
                || ' and tenure ' || tenure_txt || ' ≥ {{ loyal_min_tenure }}d'
            when occasions >= 2 then
                'occasions ' || occasions_txt || ', recency ' || recency_txt
                || ' ≤ lapse threshold ' || {{ seg_num('lapse_threshold_days', 1) }}
                || 'd; not loyal: occasions_24m ' || occasions_24m_txt
                || ' (loyal ≥ {{ loyal_min_occasions }}), tenure ' || tenure_txt
                || ' (loyal ≥ {{ loyal_min_tenure }}d)'
            else
                'one occasion ' || {{ seg_date('first_purchase_date') }} || ', recency '
                || recency_txt || ' ≤ one_time_lost_days {{ one_time_lost_days }}'
        end as lifecycle_reason
    from role
),

-- 5.3 Satisfaction ladder (enthusiast refines happy, so it is tested first) and 5.4 NPS group
voice as (
    select
        *,
        coalesce(referrals_12m, 0) >= {{ min_referrals }} as is_referrer,
        case
            when voice_kind is null then 'unknown'
            when voice_kind = 'complaint' and complaint_severity = 'high' then 'angry'
            when voice_kind = 'complaint' then 'dissatisfied'
            when voice_score <= {{ angry_max }} then 'angry'
            when voice_score <= {{ detractor_max }} then 'dissatisfied'
            when voice_score <= {{ passive_max }} then 'satisfied'
            when coalesce(referrals_12m, 0) >= {{ min_referrals }} then 'enthusiast'
            else 'happy'
        end as satisfaction,
        case
            when voice_kind is null then
                'no survey answer or complaint in the last {{ voice_days }}d'
            else 'latest voice in {{ voice_days }}d: ' || voice_txt
                || case
                    when voice_kind = 'complaint' then ''
                    when voice_score <= {{ angry_max }} then ' ≤ {{ angry_max }}'
                    when voice_score <= {{ detractor_max }} then ' ≤ {{ detractor_max }}'
                    when voice_score <= {{ passive_max }} then ' ≤ {{ passive_max }}'
                    else ' > {{ passive_max }}, referrals_12m ' || referrals_txt
                        || case
                            when coalesce(referrals_12m, 0) >= {{ min_referrals }} then ' ≥ '
                            else ' < '
                        end || '{{ min_referrals }}'
                end
        end as satisfaction_reason,
        case
            when nps_score is null then 'none'
            when nps_score <= {{ detractor_max }} then 'detractor'
            when nps_score <= {{ passive_max }} then 'passive'
            else 'promoter'
        end as nps_group,
        case
            when nps_score is null then 'no survey answer in the last {{ voice_days }}d'
            else 'latest survey answer in {{ voice_days }}d: ' || nps_txt
                || case
                    when nps_score <= {{ detractor_max }} then ' ≤ {{ detractor_max }}'
                    when nps_score <= {{ passive_max }} then ' ≤ {{ passive_max }}'
                    else ' > {{ passive_max }}'
                end
        end as nps_group_reason
    from lifecycle
),

-- 5.5 RFM segment from the R×F grid
rfm as (
    select
        *,
        case
            when r_score is null then 'none'
            when r_score = 5 and f_score >= 4 then 'champions'
            when r_score in (3, 4) and f_score >= 4 then 'loyal_customers'
            when r_score >= 4 and f_score in (2, 3) then 'potential_loyalists'
            when r_score = 5 and f_score = 1 then 'new_customers'
            when r_score = 4 and f_score = 1 then 'promising'
            when r_score = 3 and f_score = 3 then 'need_attention'
            when r_score = 3 and f_score <= 2 then 'about_to_sleep'
            when r_score <= 2 and f_score = 5 then 'cant_lose_them'
            when r_score <= 2 and f_score >= 3 then 'at_risk'
            else 'hibernating'
        end as rfm_segment,
        case
            when r_score is null then 'no purchase occasion to score'
            else 'R' || cast(r_score as varchar) || ' F' || cast(f_score as varchar)
                || ' M' || cast(m_score as varchar) || ': recency ' || recency_txt
                || ', occasions ' || occasions_txt || ', revenue_12m '
                || {{ seg_num('revenue_12m', 2) }}
        end as rfm_segment_reason
    from voice
),

-- 5.6 Value tier. most_valuable: top mvc_share by contribution_12m (> 0) among purchasing
-- customers not below zero; most_growable: top growable_headroom_share by headroom among the
-- purchasing customers left, with a known clv_12m and enough p_alive.
-- The ranks are computed on the few columns they read and joined back (value_ranked): a window
-- sorts every column its rows carry, and by now each row carries its reason texts.
value_inputs as (
    select customer_id, occasions, contribution_12m, potential_clv_12m, clv_12m
    from inputs
),

value_mvc as (
    select
        *,
        occasions >= 1 and contribution_12m >= 0 as is_mvc_candidate,
        potential_clv_12m - clv_12m as headroom_clv_12m,
        rank() over (
            partition by occasions >= 1 and contribution_12m >= 0
            order by contribution_12m desc
        ) as contribution_rank,
        {{ seg_top_ranks(mvc_share,
            'count(*) over (partition by occasions >= 1 and contribution_12m >= 0)') }}
            as contribution_top_ranks,
        count(*) over (partition by occasions >= 1 and contribution_12m >= 0)
            as contribution_population
    from value_inputs
),

value_growth as (
    select
        *,
        coalesce(
            is_mvc_candidate and contribution_12m > 0
            and contribution_rank <= contribution_top_ranks,
            false
        ) as is_most_valuable
    from value_mvc
),

value_growth_ranked as (
    select
        *,
        coalesce(is_mvc_candidate and not is_most_valuable and headroom_clv_12m is not null, false)
            as is_growth_candidate,
        rank() over (
            partition by coalesce(
                is_mvc_candidate and not is_most_valuable and headroom_clv_12m is not null, false
            )
            order by headroom_clv_12m desc
        ) as headroom_rank,
        count(*) over (
            partition by coalesce(
                is_mvc_candidate and not is_most_valuable and headroom_clv_12m is not null, false
            )
        ) as headroom_population
    from value_growth
),

value_ranked as (
    select
        rfm.*,
        ranks.* exclude (customer_id, occasions, contribution_12m, potential_clv_12m, clv_12m)
    from rfm
    inner join value_growth_ranked as ranks using (customer_id)
),

value_tier as (
    select
        *,
        case
            when contribution_12m < 0 then 'below_zero'
            when is_most_valuable then 'most_valuable'
            when is_growth_candidate
                and headroom_clv_12m > 0
                and headroom_rank <= {{ seg_top_ranks(headroom_share, 'headroom_population') }}
                and p_alive >= {{ min_p_alive }} then 'most_growable'
            when occasions >= 1 then 'low_maintenance'
            else 'prospect'
        end as value_tier,
        'contribution_12m ' || contribution_txt || ' ranks ' || cast(contribution_rank as varchar)
            || ' of ' || cast(contribution_population as varchar)
            || ' (top {{ seg_pct(mvc_share) }} = ranks ≤ '
            || cast(contribution_top_ranks as varchar) || ')' as contribution_rank_txt,
        case
            when clv_12m is null then 'clv_12m unknown'
            when potential_clv_12m is null then 'no peers with a known clv_12m'
            else 'headroom ' || {{ seg_num('headroom_clv_12m', 2) }} || ' = potential '
                || {{ seg_num('potential_clv_12m', 2) }} || ' (p{{ potential_pct }} clv_12m of '
                || cast(peer_customers as varchar) || ' peers ' || peer_group || ') − clv_12m '
                || clv_txt
                || case
                    when is_growth_candidate then
                        ' ranks ' || cast(headroom_rank as varchar) || ' of '
                        || cast(headroom_population as varchar)
                        || ' (top {{ seg_pct(headroom_share) }} = ranks ≤ '
                        || cast(
                            {{ seg_top_ranks(headroom_share, 'headroom_population') }} as varchar
                        ) || '), p_alive ' || p_alive_txt
                        || ' (growable ≥ {{ min_p_alive }})'
                    else ''
                end
        end as headroom_txt
    from value_ranked
),

value_tier_explained as (
    select
        *,
        case value_tier
            when 'below_zero' then 'contribution_12m ' || contribution_txt || ' < 0'
            when 'most_valuable' then contribution_rank_txt
            when 'most_growable' then headroom_txt
            when 'low_maintenance' then contribution_rank_txt || '; ' || headroom_txt
            else 'no purchase occasion, contribution_12m ' || contribution_txt
        end as value_tier_reason
    from value_tier
),

-- 5.7 Loyalty type (Dick & Basu). A negative attitude signal outweighs a positive one.
loyalty_signals as (
    select
        *,
        occasions >= 1
            and recency_days < {{ active_days }}
            and lifecycle not in ('lapsed', 'lost') as is_active,
        coalesce(f_score >= {{ min_f_score }}, false)
            and occasions >= 1
            and recency_days < {{ active_days }}
            and lifecycle not in ('lapsed', 'lost') as is_high_patronage,
        coalesce(discount_share_12m >= {{ discount_share }}, false) as is_discount_driven,
        concat_ws(
            ', ',
            case when discount_share_12m >= {{ discount_share }} then
                'discount share ' || {{ seg_num('discount_share_12m', 2) }}
                || ' ≥ {{ discount_share }}'
            end,
            case when complaints_12m > 0 then
                'complaints_12m ' || {{ seg_num('complaints_12m') }}
            end,
            case when nps_group = 'detractor' then 'detractor (' || nps_txt || ')' end
        ) as low_signals,
        concat_ws(
            ', ',
            case when nps_group = 'promoter' then 'promoter (' || nps_txt || ')' end,
            case when is_referrer then 'referrals_12m ' || referrals_txt end
        ) as high_signals
    from value_tier_explained
),

loyalty as (
    select
        *,
        case
            when low_signals = '' and high_signals = '' then 'undetermined'
            when is_high_patronage and low_signals = '' then 'true_loyalty'
            when is_high_patronage then 'spurious_loyalty'
            when low_signals = '' then 'latent_loyalty'
            else 'no_loyalty'
        end as loyalty_type,
        case
            when is_high_patronage and low_signals != '' then
                case when is_discount_driven then 'discount' else 'complaints_or_detractor' end
        end as loyalty_driver,
        case
            when is_high_patronage then
                'patronage high (F' || cast(f_score as varchar) || ' ≥ {{ min_f_score }}, '
                || 'recency ' || recency_txt || ' < {{ active_days }}d)'
            when occasions = 0 then 'patronage low (no purchase)'
            when not is_active then
                'patronage low (inactive: ' || lifecycle || ', recency ' || recency_txt || ')'
            else 'patronage low (F' || cast(f_score as varchar) || ' < {{ min_f_score }})'
        end
        || '; '
        || case
            when low_signals != '' then
                'attitude low (' || low_signals
                || case when high_signals != '' then '; outweighs ' || high_signals else '' end
                || ')'
            when high_signals != '' then 'attitude high (' || high_signals || ')'
            else 'attitude neutral (no promoter score, referral, detractor score, complaint '
                || 'or discount-driven buying)'
        end as loyalty_type_reason
    from loyalty_signals
),

-- 5.8 Loyalty ladder: the highest rung that holds.
ladder as (
    select
        *,
        case
            when occasions >= 2 and is_referrer and value_tier = 'most_valuable'
                and tenure_days >= {{ partner_tenure }} then 'partner'
            when occasions >= 2 and is_referrer then 'advocate'
            when occasions >= 2 and nps_group = 'promoter' then 'supporter'
            when occasions >= 2 then 'client'
            when occasions = 1 then 'purchaser'
            else 'prospect'
        end as loyalty_ladder,
        case
            when occasions >= 2 and is_referrer then
                'occasions ' || occasions_txt || ', referrals_12m ' || referrals_txt
                || ', value tier ' || value_tier || ', tenure ' || tenure_txt
                || case
                    when value_tier = 'most_valuable' and tenure_days >= {{ partner_tenure }}
                        then ' ≥ {{ partner_tenure }}d'
                    else ' (partner: most_valuable and ≥ {{ partner_tenure }}d)'
                end
            when occasions >= 2 and nps_group = 'promoter' then
                'occasions ' || occasions_txt || ', promoter (' || nps_txt || '), referrals_12m '
                || referrals_txt
            when occasions >= 2 then
                'occasions ' || occasions_txt || ', attitude not high (NPS group ' || nps_group
                || ', referrals_12m ' || referrals_txt || ')'
            when occasions = 1 then 'one occasion'
            else 'no purchase occasion'
        end as loyalty_ladder_reason
    from loyalty
),

-- 5.9 The ten customer types, first match. desired: a prospect whose look-alike clv_12m ranks
-- in the top desired_lookalike_share of the prospects with a look-alike score (ranked on the
-- columns it reads, as the value tier is).
lookalike_inputs as (
    select customer_id, lifecycle, lookalike_clv_12m
    from lifecycle
),

lookalike_ranks as (
    select
        *,
        lifecycle = 'prospect' and lookalike_clv_12m is not null as is_desired_candidate,
        rank() over (
            partition by lifecycle = 'prospect' and lookalike_clv_12m is not null
            order by lookalike_clv_12m desc
        ) as lookalike_rank,
        {{ seg_top_ranks(lookalike_share,
            "count(*) over (partition by lifecycle = 'prospect' and lookalike_clv_12m is not null)")
        }} as lookalike_top_ranks,
        count(*) over (
            partition by lifecycle = 'prospect' and lookalike_clv_12m is not null
        ) as lookalike_population
    from lookalike_inputs
),

ten_ranked as (
    select
        ladder.*,
        ranks.* exclude (customer_id, lifecycle, lookalike_clv_12m)
    from ladder
    inner join lookalike_ranks as ranks using (customer_id)
),

ten_types as (
    select
        *,
        case
            when contribution_12m < 0 and clv_12m < 0
                and tenure_days >= {{ let_go_tenure }} then 'let_go'
            when value_tier = 'below_zero' then 'draining'
            when satisfaction in ('angry', 'dissatisfied')
                and (
                    value_tier in ('most_valuable', 'most_growable')
                    or m_score >= {{ min_m_score }}
                ) then 'disappointed'
            when satisfaction in ('angry', 'dissatisfied') then 'disaffected'
            when lifecycle = 'lapsed' then 'dormant'
            when loyalty_type = 'true_loyalty' then 'devoted'
            when nps_group = 'promoter' then 'delighted'
            when is_desired_candidate and lookalike_rank <= lookalike_top_ranks then 'desired'
            when lifecycle in ('prospect', 'lost') then 'disinterested'
            else 'detached'
        end as ten_types,
        'look-alike clv_12m ' || {{ seg_num('lookalike_clv_12m', 2) }} || ' (mean of '
            || cast(lookalike_customers as varchar) || ' customers ' || lookalike_group
            || ') ranks ' || cast(lookalike_rank as varchar) || ' of '
            || cast(lookalike_population as varchar) || ' prospects (top '
            || '{{ seg_pct(lookalike_share) }} = ranks ≤ '
            || cast(lookalike_top_ranks as varchar) || ')' as lookalike_txt
    from ten_ranked
),

ten_types_explained as (
    select
        *,
        case ten_types
            when 'let_go' then
                'contribution_12m ' || contribution_txt || ' < 0, clv_12m ' || clv_txt
                || ' < 0, tenure ' || tenure_txt || ' ≥ {{ let_go_tenure }}d'
            when 'draining' then
                'contribution_12m ' || contribution_txt || ' < 0; not let go: clv_12m ' || clv_txt
                || ', tenure ' || tenure_txt
                || ' (let go: clv_12m < 0 and ≥ {{ let_go_tenure }}d)'
            when 'disappointed' then
                case
                    when value_tier in ('most_valuable', 'most_growable') then value_tier
                    else 'M' || cast(m_score as varchar) || ' ≥ {{ min_m_score }}'
                end
                || ' with a negative latest voice: ' || satisfaction || ' (' || voice_txt || ')'
            when 'disaffected' then
                'negative latest voice: ' || satisfaction || ' (' || voice_txt || ')'
            when 'dormant' then 'lapsed: ' || lifecycle_reason
            when 'devoted' then 'true loyalty: ' || loyalty_type_reason
            when 'delighted' then 'promoter (' || nps_txt || '), loyalty type ' || loyalty_type
            when 'desired' then lookalike_txt
            when 'disinterested' then
                case
                    when lifecycle = 'lost' then 'lost: ' || lifecycle_reason
                    when is_desired_candidate then lookalike_txt
                    else 'prospect without a look-alike clv_12m'
                end
            else
                'buys (lifecycle ' || lifecycle || ') with no sign of attachment: loyalty type '
                || loyalty_type || ', NPS group ' || nps_group || ', satisfaction ' || satisfaction
        end as ten_types_reason
    from ten_types
),

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
    from ten_types_explained
)

select * from final
