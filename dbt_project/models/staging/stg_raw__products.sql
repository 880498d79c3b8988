-- Every delivered version of a product; int_order_lines picks the latest delivered by D.
with source as (
    select * from {{ source('raw', 'products') }}
    where _visible_from <= {{ as_of() }}
)

select
    product_id,
    _visible_from as delivered_date,
    _file as source_file,
    _row_number as source_row,
    category,
    unit_cost,
    coalesce(is_merchandise, true) as is_merchandise
from source
