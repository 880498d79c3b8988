-- One customer. PII columns stay in the working warehouse and never reach published tables.
-- Every delivered version of a customer; int_customers picks the latest delivered by D.
with source as (
    select * from {{ source('raw', 'customers') }}
    where _visible_from <= {{ as_of() }}
)

select
    customer_id,
    _visible_from as delivered_date,
    _file as source_file,
    _row_number as source_row,
    signed_up_at,
    cast(signed_up_at as date) as signed_up_date,
    customer_kind,
    is_employee,
    referred_by,
    coalesce(acquisition_channel, 'unknown') as acquisition_channel,
    acquisition_cost,
    coalesce(region, 'unknown') as region,
    email,
    name,
    phone
from source
