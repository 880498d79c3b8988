-- SPEC §5.5 RFM segment: the cell of the R×F grid (scores from int_segment_rfm; customers
-- without a purchase occasion have none).
{%- set text = text_type() %}
{%- set rules = [
    ("r_score is null", "none", "'no purchase occasion to score'"),
    ("r_score = 5 and f_score >= 4", "champions", "rfm_txt"),
    ("r_score in (3, 4) and f_score >= 4", "loyal_customers", "rfm_txt"),
    ("r_score >= 4 and f_score in (2, 3)", "potential_loyalists", "rfm_txt"),
    ("r_score = 5 and f_score = 1", "new_customers", "rfm_txt"),
    ("r_score = 4 and f_score = 1", "promising", "rfm_txt"),
    ("r_score = 3 and f_score = 3", "need_attention", "rfm_txt"),
    ("r_score = 3 and f_score <= 2", "about_to_sleep", "rfm_txt"),
    ("r_score <= 2 and f_score = 5", "cant_lose_them", "rfm_txt"),
    ("r_score <= 2 and f_score >= 3", "at_risk", "rfm_txt"),
    ("true", "hibernating", "rfm_txt"),
] %}

with customers as (
    select
        *,
        'R' || cast(r_score as {{ text }}) || ' F' || cast(f_score as {{ text }})
            || ' M' || cast(m_score as {{ text }}) || ': recency ' || recency_txt
            || ', occasions ' || occasions_txt || ', revenue_12m '
            || {{ seg_num('revenue_12m', 2) }} as rfm_txt
    from {{ ref('int_segment_satisfaction') }}
)

select
    *,
    {{ first_match('rfm_segment', rules) }}
from customers
