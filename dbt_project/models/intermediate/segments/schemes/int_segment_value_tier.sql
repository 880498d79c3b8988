-- SPEC §5.6 value tier (Peppers & Rogers), first match in the spec's order, so a prospect whose
-- support costs money is below_zero. most_valuable: the top mvc_share by contribution_12m (> 0)
-- among purchasing customers not below zero; most_growable: the top growable_headroom_share by
-- headroom (peers' potential clv_12m − clv_12m, > 0) among the purchasing customers left, with a
-- known clv_12m and p_alive ≥ growable_min_p_alive. "Top share": ties share a rank, and ranks ≤
-- ceil(share × population) are in. The ranks are computed on the few columns they read and
-- joined back: a window sorts every column its rows carry, and these rows carry reason texts.
{%- set text = text_type() %}
{%- set mvc_share = var('mvc_share') %}
{%- set headroom_share = var('growable_headroom_share') %}
{%- set min_p_alive = var('growable_min_p_alive') %}
{%- set rules = [
    ("contribution_12m < 0", "below_zero", "'contribution_12m ' || contribution_txt || ' < 0'"),
    ("is_most_valuable", "most_valuable", "contribution_rank_txt"),
    ("is_growth_candidate and headroom_clv_12m > 0 and headroom_rank <= headroom_top_ranks"
        ~ " and p_alive >= " ~ min_p_alive, "most_growable", "headroom_txt"),
    ("occasions >= 1", "low_maintenance", "contribution_rank_txt || '; ' || headroom_txt"),
    ("true", "prospect", "'no purchase occasion, contribution_12m ' || contribution_txt"),
] %}

with customers as (select * from {{ ref('int_segment_rfm_segment') }}),

contribution_ranks as (
    select
        customer_id,
        occasions,
        contribution_12m,
        potential_clv_12m - clv_12m as headroom_clv_12m,
        occasions >= 1 and contribution_12m >= 0 as is_mvc_candidate,
        rank() over (
            partition by occasions >= 1 and contribution_12m >= 0
            order by contribution_12m desc
        ) as contribution_rank,
        {{ seg_top_ranks(mvc_share,
            'count(*) over (partition by occasions >= 1 and contribution_12m >= 0)') }}
            as contribution_top_ranks,
        count(*) over (partition by occasions >= 1 and contribution_12m >= 0)
            as contribution_population
    from {{ ref('int_segment_rfm_segment') }}
),

valuable as (
    select
        *,
        coalesce(
            is_mvc_candidate and contribution_12m > 0
            and contribution_rank <= contribution_top_ranks,
            false
        ) as is_most_valuable
    from contribution_ranks
),

growth_candidates as (
    select
        *,
        coalesce(is_mvc_candidate and not is_most_valuable and headroom_clv_12m is not null, false)
            as is_growth_candidate
    from valuable
),

headroom_ranks as (
    select
        customer_id,
        headroom_clv_12m,
        is_mvc_candidate,
        contribution_rank,
        contribution_top_ranks,
        contribution_population,
        is_most_valuable,
        is_growth_candidate,
        rank() over (partition by is_growth_candidate order by headroom_clv_12m desc)
            as headroom_rank,
        count(*) over (partition by is_growth_candidate) as headroom_population
    from growth_candidates
),

ranked as (
    select
        customers.*,
        ranks.headroom_clv_12m,
        ranks.is_mvc_candidate,
        ranks.contribution_rank,
        ranks.contribution_top_ranks,
        ranks.contribution_population,
        ranks.is_most_valuable,
        ranks.is_growth_candidate,
        ranks.headroom_rank,
        ranks.headroom_population,
        {{ seg_top_ranks(headroom_share, 'ranks.headroom_population') }} as headroom_top_ranks
    from customers
    inner join headroom_ranks as ranks using (customer_id)
),

-- The ranks and the headroom as the reasons quote them.
quoted as (
    select
        *,
        'contribution_12m ' || contribution_txt
            || ' ranks ' || cast(contribution_rank as {{ text }})
            || ' of ' || cast(contribution_population as {{ text }})
            || ' (top {{ seg_pct(mvc_share) }} = ranks ≤ '
            || cast(contribution_top_ranks as {{ text }}) || ')' as contribution_rank_txt,
        case
            when clv_12m is null then 'clv_12m unknown'
            when potential_clv_12m is null then 'no peers with a known clv_12m'
            else 'headroom ' || {{ seg_num('headroom_clv_12m', 2) }} || ' = potential '
                || {{ seg_num('potential_clv_12m', 2) }}
                || ' (p{{ (var("growable_potential_quantile") * 100) | round | int }} clv_12m of '
                || cast(peer_customers as {{ text }}) || ' peers ' || peer_group || ') − clv_12m '
                || clv_txt
                || case
                    when is_growth_candidate then
                        ' ranks ' || cast(headroom_rank as {{ text }}) || ' of '
                        || cast(headroom_population as {{ text }})
                        || ' (top {{ seg_pct(headroom_share) }} = ranks ≤ '
                        || cast(headroom_top_ranks as {{ text }}) || '), p_alive ' || p_alive_txt
                        || ' (growable ≥ {{ min_p_alive }})'
                    else ''
                end
        end as headroom_txt
    from ranked
)

select
    *,
    {{ first_match('value_tier', rules) }}
from quoted
