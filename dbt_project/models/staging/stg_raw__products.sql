-- One product. A product delivered again in a later drop takes the latest drop's attributes.
with source as (
    select * from {{ source('raw', 'products') }}
),

latest as (
    select *
    from source
    qualify row_number() over (
        partition by product_id order by _drop_date desc, _file desc, _row_number desc
    ) = 1
)

select
    trim(product_id) as product_id,
    category,
    unit_cost,
    coalesce(is_merchandise, true) as is_merchandise
from latest
