-- SPEC §5.9 the ten customer types, first match. disappointed: a negative latest voice from a
-- valuable tier or an M score of at least disappointed_min_m_score (the "historical M");
-- delighted: a promoter not already devoted; desired: a prospect whose look-alike clv_12m ranks
-- in the top desired_lookalike_share of the prospects with a look-alike score (ranked on the
-- columns it reads, as the value tier is).
{%- set let_go_tenure = var('let_go_min_tenure_days') %}
{%- set min_m_score = var('disappointed_min_m_score') %}
{%- set lookalike_share = var('desired_lookalike_share') %}
{%- set negative = "satisfaction in ('angry', 'dissatisfied')" %}
{%- set voice = "' with a negative latest voice: ' || satisfaction || ' (' || voice_txt || ')'" %}
{%- set text = text_type() %}
{%- set rules = [
    ("contribution_12m < 0 and clv_12m < 0 and tenure_days >= " ~ let_go_tenure, "let_go",
        "'contribution_12m ' || contribution_txt || ' < 0, clv_12m ' || clv_txt"
        ~ " || ' < 0, tenure ' || tenure_txt || ' ≥ " ~ let_go_tenure ~ "d'"),
    ("value_tier = 'below_zero'", "draining",
        "'contribution_12m ' || contribution_txt || ' < 0; not let go: clv_12m ' || clv_txt"
        ~ " || ', tenure ' || tenure_txt"
        ~ " || ' (let go: clv_12m < 0 and ≥ " ~ let_go_tenure ~ "d)'"),
    (negative ~ " and value_tier in ('most_valuable', 'most_growable')", "disappointed",
        "value_tier || " ~ voice),
    (negative ~ " and m_score >= " ~ min_m_score, "disappointed",
        "'M' || cast(m_score as " ~ text ~ ") || ' ≥ " ~ min_m_score ~ "' || " ~ voice),
    (negative, "disaffected",
        "'negative latest voice: ' || satisfaction || ' (' || voice_txt || ')'"),
    ("lifecycle = 'lapsed'", "dormant", "'lapsed: ' || lifecycle_reason"),
    ("loyalty_type = 'true_loyalty'", "devoted", "'true loyalty: ' || loyalty_type_reason"),
    ("nps_group = 'promoter'", "delighted",
        "'promoter (' || nps_txt || '), loyalty type ' || loyalty_type"),
    ("is_desired_candidate and lookalike_rank <= lookalike_top_ranks", "desired",
        "lookalike_txt"),
    ("lifecycle = 'lost'", "disinterested", "'lost: ' || lifecycle_reason"),
    ("is_desired_candidate", "disinterested", "lookalike_txt"),
    ("lifecycle = 'prospect'", "disinterested", "'prospect without a look-alike clv_12m'"),
    ("true", "detached",
        "'buys (lifecycle ' || lifecycle || ') with no sign of attachment: loyalty type '"
        ~ " || loyalty_type || ', NPS group ' || nps_group || ', satisfaction ' || satisfaction"),
] %}

with customers as (select * from {{ ref('int_segment_loyalty_ladder') }}),

lookalike_ranks as (
    select
        customer_id,
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
    from {{ ref('int_segment_loyalty_ladder') }}
),

-- The look-alike rank as the reasons quote it.
quoted as (
    select
        customers.*,
        ranks.is_desired_candidate,
        ranks.lookalike_rank,
        ranks.lookalike_top_ranks,
        ranks.lookalike_population,
        'look-alike clv_12m ' || {{ seg_num('customers.lookalike_clv_12m', 2) }} || ' (mean of '
            || cast(customers.lookalike_customers as {{ text }}) || ' customers '
            || customers.lookalike_group || ') ranks ' || cast(ranks.lookalike_rank as {{ text }})
            || ' of ' || cast(ranks.lookalike_population as {{ text }}) || ' prospects (top '
            || '{{ seg_pct(lookalike_share) }} = ranks ≤ '
            || cast(ranks.lookalike_top_ranks as {{ text }}) || ')' as lookalike_txt
    from customers
    inner join lookalike_ranks as ranks using (customer_id)
)

select
    *,
    {{ first_match('ten_types', rules) }}
from quoted
