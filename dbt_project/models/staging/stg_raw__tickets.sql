-- One support interaction.
select
    ticket_id,
    customer_id,
    opened_at,
    cast(opened_at as date) as opened_date,
    closed_at,
    coalesce(kind, 'other') as kind,
    coalesce(severity, 'normal') as severity,
    handling_minutes,
    contact_id
from {{ source('raw', 'tickets') }}
where _visible_from <= {{ as_of() }}
