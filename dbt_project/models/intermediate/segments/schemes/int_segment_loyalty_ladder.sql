-- SPEC §5.8 loyalty ladder: the highest rung that holds. "Repeat" is 2+ occasions; a partner is
-- an advocate who is most valuable with a tenure of at least partner_min_tenure_days.
{%- set partner_tenure = var('partner_min_tenure_days') %}
{%- set referrer = "'occasions ' || occasions_txt || ', referrals_12m ' || referrals_txt"
    ~ " || ', value tier ' || value_tier || ', tenure ' || tenure_txt" %}
{%- set rules = [
    ("occasions >= 2 and is_referrer and value_tier = 'most_valuable'"
        ~ " and tenure_days >= " ~ partner_tenure, "partner",
        referrer ~ " || ' ≥ " ~ partner_tenure ~ "d'"),
    ("occasions >= 2 and is_referrer", "advocate",
        referrer ~ " || ' (partner: most_valuable and ≥ " ~ partner_tenure ~ "d)'"),
    ("occasions >= 2 and nps_group = 'promoter'", "supporter",
        "'occasions ' || occasions_txt || ', promoter (' || nps_txt || '), referrals_12m '"
        ~ " || referrals_txt"),
    ("occasions >= 2", "client",
        "'occasions ' || occasions_txt || ', attitude not high (NPS group ' || nps_group"
        ~ " || ', referrals_12m ' || referrals_txt || ')'"),
    ("occasions = 1", "purchaser", "'one occasion'"),
    ("true", "prospect", "'no purchase occasion'"),
] %}

select
    *,
    {{ first_match('loyalty_ladder', rules) }}
from {{ ref('int_segment_loyalty_type') }}
