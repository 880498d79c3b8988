-- Per customer: the voice of the customer from surveys up to D. CSAT-only answers are mapped
-- onto the NPS scale in staging and flagged here.
with surveys as (
    select
        *,
        responded_date >= {{ window_start(var('window_12m_days')) }} as in_12m
    from {{ ref('stg_raw__surveys') }}
    where responded_date <= {{ as_of() }}
)

select
    customer_id,
    {{ max_by('nps_equivalent', ['responded_at', 'response_id']) }} as last_nps_score,
    max(responded_at) as last_nps_at,
    {{ max_by('nps_from_csat', ['responded_at', 'response_id']) }} as last_nps_from_csat,
    avg(csat_score) filter (where in_12m) as csat_avg_12m,
    count(*) filter (where in_12m) as responses_12m
from surveys
group by customer_id
