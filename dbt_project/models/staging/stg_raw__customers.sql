-- One customer. PII columns stay in the working warehouse and never reach published tables.
-- A customer_id delivered again in a later drop takes the latest drop's attributes.
with source as (
    select * from {{ source('raw', 'customers') }}
),

latest as (
    select *
    from source
    qualify row_number() over (
        partition by customer_id order by _drop_date desc, _file desc, _row_number desc
    ) = 1
)

select
    trim(customer_id) as customer_id,
    signed_up_at,
    cast(signed_up_at as date) as signed_up_date,
    lower(customer_kind) as customer_kind,
    is_employee,
    nullif(trim(referred_by), '') as referred_by,
    coalesce(nullif(trim(acquisition_channel), ''), 'unknown') as acquisition_channel,
    acquisition_cost,
    coalesce(nullif(trim(region), ''), 'unknown') as region,
    email,
    name,
    phone
from latest
