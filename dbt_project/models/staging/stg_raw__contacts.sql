-- One person at a customer account (SPEC §5.11). Every delivered version of a contact;
-- int_contacts picks the latest delivered by D. PII columns stay in the working warehouse and
-- never reach published tables.
with source as (
    select * from {{ source('raw', 'contacts') }}
    where _visible_from <= {{ as_of() }}
)

select
    contact_id,
    customer_id,
    _visible_from as delivered_date,
    _file as source_file,
    _row_number as source_row,
    created_at,
    cast(created_at as date) as created_date,
    title,
    department,
    is_decision_maker,
    is_employee,
    email,
    name,
    phone
from source
