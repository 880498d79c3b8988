-- SPEC §5.7 loyalty type (Dick & Basu): patronage × attitude. High patronage: an F score of at
-- least loyalty_min_f_score while active (recency < active_days, not lapsed or lost). Attitude:
-- low on a detractor score, a complaint in 12m or discount-driven buying (discount_share_12m ≥
-- spurious_discount_share), high on a promoter score or referrals; a negative signal outweighs
-- a positive one. The rule that makes a loyalty spurious also says what drives it.
{%- set text = text_type() %}
{%- set active_days = var('active_days') %}
{%- set min_f_score = var('loyalty_min_f_score') %}
{%- set discount_share = var('spurious_discount_share') %}
{%- set low = "patronage_txt || '; attitude low (' || low_signals || outweighs_txt || ')'" %}
{%- set high = "patronage_txt || '; attitude high (' || high_signals || ')'" %}
{%- set rules = [
    ("low_signals = '' and high_signals = ''", "undetermined",
        "patronage_txt || '; attitude neutral (no promoter score, referral, detractor score, "
        ~ "complaint or discount-driven buying)'"),
    ("is_high_patronage and low_signals = ''", "true_loyalty", high),
    ("is_high_patronage and is_discount_driven", "spurious_loyalty", low,
        {"loyalty_driver": "'discount'"}),
    ("is_high_patronage", "spurious_loyalty", low,
        {"loyalty_driver": "'complaints_or_detractor'"}),
    ("low_signals = ''", "latent_loyalty", high),
    ("true", "no_loyalty", low),
] %}

with customers as (
    select
        *,
        occasions >= 1
            and recency_days < {{ active_days }}
            and lifecycle not in ('lapsed', 'lost') as is_active,
        coalesce(discount_share_12m >= {{ discount_share }}, false) as is_discount_driven
    from {{ ref('int_segment_value_tier') }}
),

signals as (
    select
        *,
        coalesce(f_score >= {{ min_f_score }}, false) and is_active as is_high_patronage,
        concat_ws(
            ', ',
            case when is_discount_driven then
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
    from customers
),

-- Patronage and the outweighed positive signals as the reasons quote them.
quoted as (
    select
        *,
        case
            when is_high_patronage then
                'patronage high (F' || cast(f_score as {{ text }}) || ' ≥ {{ min_f_score }}, '
                || 'recency ' || recency_txt || ' < {{ active_days }}d)'
            when occasions = 0 then 'patronage low (no purchase)'
            when not is_active then
                'patronage low (inactive: ' || lifecycle || ', recency ' || recency_txt || ')'
            else 'patronage low (F' || cast(f_score as {{ text }}) || ' < {{ min_f_score }})'
        end as patronage_txt,
        case when high_signals != '' then '; outweighs ' || high_signals else '' end
            as outweighs_txt
    from signals
)

select
    *,
    {{ first_match('loyalty_type', rules) }}
from quoted
