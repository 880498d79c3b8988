-- One support interaction.
select
    ticket_id,
    trim(customer_id) as customer_id,
    opened_at,
    cast(opened_at as date) as opened_date,
    closed_at,
    coalesce(lower(kind), 'other') as kind,
    coalesce(lower(severity), 'normal') as severity,
    handling_minutes
from {{ source('raw', 'tickets') }}
