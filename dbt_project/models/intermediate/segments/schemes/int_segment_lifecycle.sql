-- SPEC §5.2 lifecycle, first match. A customer with 2+ occasions lapses after a silence longer
-- than the lapse threshold, max(lapse_min_days, lapse_gap_multiple × the median gap between
-- occasions); the latest comeback after such a silence (int_segment_comebacks) makes a customer
-- reborn, unless silent again.
{%- set new_days = var('new_days') %}
{%- set lost_days = var('lost_days') %}
{%- set one_time_lost_days = var('one_time_lost_days') %}
{%- set loyal_occasions = var('loyal_min_occasions_24m') %}
{%- set loyal_tenure = var('loyal_min_tenure_days') %}
{%- set lapse = var('lapse_min_days') ~ "d, " ~ var('lapse_gap_multiple') ~ " ×" %}
{%- set rules = [
    ("occasions = 0", "prospect",
        "'no purchase occasion by D (signed up ' || signed_up_txt || ')'"),
    ("tenure_days < " ~ new_days, "new",
        "'first occasion ' || first_purchase_txt || ': tenure ' || tenure_txt"
        ~ " || ' < new_days " ~ new_days ~ "'"),
    ("recency_days > " ~ lost_days, "lost",
        "'recency ' || recency_txt || ' > lost_days " ~ lost_days ~ "'"),
    ("occasions = 1 and recency_days > " ~ one_time_lost_days, "lost",
        "'one occasion, recency ' || recency_txt"
        ~ " || ' > one_time_lost_days " ~ one_time_lost_days ~ "'"),
    ("occasions >= 2 and recency_days > lapse_threshold_days", "lapsed",
        "'recency ' || recency_txt || ' > ' || lapse_txt"),
    ("comeback_date is not null", "reborn",
        "comeback_txt"),
    ("occasions_24m >= " ~ loyal_occasions ~ " and tenure_days >= " ~ loyal_tenure, "loyal",
        "'occasions_24m ' || occasions_24m_txt || ' ≥ " ~ loyal_occasions ~ "'"
        ~ " || ' and tenure ' || tenure_txt || ' ≥ " ~ loyal_tenure ~ "d'"),
    ("occasions >= 2", "repeat",
        "'occasions ' || occasions_txt || ', recency ' || recency_txt"
        ~ " || ' ≤ lapse threshold ' || lapse_threshold_txt"
        ~ " || '; not loyal: occasions_24m ' || occasions_24m_txt"
        ~ " || ' (loyal ≥ " ~ loyal_occasions ~ "), tenure ' || tenure_txt"
        ~ " || ' (loyal ≥ " ~ loyal_tenure ~ "d)'"),
    ("true", "one_time",
        "'one occasion ' || first_purchase_txt || ', recency ' || recency_txt"
        ~ " || ' ≤ one_time_lost_days " ~ one_time_lost_days ~ "'"),
] %}

with customers as (
    select
        *,
        {{ lapse_threshold_days('median_gap_days') }} as lapse_threshold_days
    from {{ ref('int_segment_role') }}
),

-- The thresholds and the comeback as the reasons quote them.
quoted as (
    select
        *,
        {{ seg_num('lapse_threshold_days', 1) }} || 'd' as lapse_threshold_txt,
        'max({{ lapse }} median gap ' || {{ seg_num('median_gap_days', 1) }} || 'd) = '
            || {{ seg_num('lapse_threshold_days', 1) }} || 'd' as lapse_txt,
        'came back ' || {{ seg_date('comeback_date') }}
            || ' (' || {{ seg_num('comeback_days_ago') }} || 'd ago < '
            || '{{ var("reborn_window_days") }}d) after a '
            || {{ seg_num('comeback_gap_days') }} || 'd gap > max({{ lapse }} prior median gap '
            || {{ seg_num('prior_median_gap_days', 1) }} || 'd) = '
            || {{ seg_num('comeback_threshold_days', 1) }} || 'd' as comeback_txt
    from customers
)

select
    *,
    {{ first_match('lifecycle', rules) }}
from quoted
