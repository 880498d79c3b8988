-- Per customer: support load up to D. Tickets without handling minutes count
-- default_ticket_minutes, so handling_minutes* are the minutes cost to serve charges.
with tickets as (
    select
        *,
        {{ charged_minutes('handling_minutes') }} as minutes,
        opened_date >= {{ window_start(var('window_12m_days')) }} as in_12m,
        opened_date >= {{ window_start(var('recent_complaint_days')) }} as in_recent
    from {{ ref('stg_raw__tickets') }}
    where opened_date <= {{ as_of() }}
)

select
    customer_id,
    count(*) filter (where in_12m) as tickets_12m,
    count(*) filter (where in_12m and kind = 'complaint') as complaints_12m,
    count(*) filter (
        where in_recent and kind = 'complaint' and severity = 'high'
    ) as high_severity_complaints_90d,
    coalesce(sum(minutes) filter (where in_12m), 0) as handling_minutes_12m,
    sum(minutes) as handling_minutes
from tickets
group by customer_id
