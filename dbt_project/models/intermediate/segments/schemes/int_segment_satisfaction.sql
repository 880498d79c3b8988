-- SPEC §5.3 satisfaction ladder, from the latest voice in voice_window_days (a survey answer
-- on the NPS scale or a complaint; int_segment_voice), and SPEC §5.4 NPS group, from the latest
-- survey answer. enthusiast refines happy, so it is tested first.
{%- set window = var('voice_window_days') %}
{%- set angry_max = var('angry_max_score') %}
{%- set detractor_max = var('detractor_max_score') %}
{%- set passive_max = var('passive_max_score') %}
{%- set min_referrals = var('referrer_min_referrals_12m') %}
{%- set voice = "'latest voice in " ~ window ~ "d: ' || voice_txt" %}
{%- set survey = "'latest survey answer in " ~ window ~ "d: ' || nps_txt" %}
{%- set satisfaction_rules = [
    ("voice_kind is null", "unknown",
        "'no survey answer or complaint in the last " ~ window ~ "d'"),
    ("voice_kind = 'complaint' and complaint_severity = 'high'", "angry", voice),
    ("voice_kind = 'complaint'", "dissatisfied", voice),
    ("voice_score <= " ~ angry_max, "angry", voice ~ " || ' ≤ " ~ angry_max ~ "'"),
    ("voice_score <= " ~ detractor_max, "dissatisfied", voice ~ " || ' ≤ " ~ detractor_max ~ "'"),
    ("voice_score <= " ~ passive_max, "satisfied", voice ~ " || ' ≤ " ~ passive_max ~ "'"),
    ("is_referrer", "enthusiast",
        voice ~ " || ' > " ~ passive_max ~ ", referrals_12m ' || referrals_txt"
        ~ " || ' ≥ " ~ min_referrals ~ "'"),
    ("true", "happy",
        voice ~ " || ' > " ~ passive_max ~ ", referrals_12m ' || referrals_txt"
        ~ " || ' < " ~ min_referrals ~ "'"),
] %}
{%- set nps_group_rules = [
    ("nps_score is null", "none", "'no survey answer in the last " ~ window ~ "d'"),
    ("nps_score <= " ~ detractor_max, "detractor", survey ~ " || ' ≤ " ~ detractor_max ~ "'"),
    ("nps_score <= " ~ passive_max, "passive", survey ~ " || ' ≤ " ~ passive_max ~ "'"),
    ("true", "promoter", survey ~ " || ' > " ~ passive_max ~ "'"),
] %}

with customers as (
    select
        *,
        coalesce(referrals_12m, 0) >= {{ min_referrals }} as is_referrer
    from {{ ref('int_segment_lifecycle') }}
)

select
    *,
    {{ first_match('satisfaction', satisfaction_rules) }},
    {{ first_match('nps_group', nps_group_rules) }}
from customers
