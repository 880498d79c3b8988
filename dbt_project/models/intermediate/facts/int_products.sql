-- Every product delivered by D with its latest attributes (a product delivered again in a later
-- drop takes the attributes of the latest drop by D): what makes a line merchandise and costs
-- it where the line has no cost of its own.
select
    product_id,
    is_merchandise,
    unit_cost
from (
    select
        product_id,
        is_merchandise,
        unit_cost,
        row_number() over (
            partition by product_id order by delivered_date desc, source_file desc, source_row desc
        ) as version_rank
    from {{ ref('stg_raw__products') }}
    where delivered_date <= {{ as_of() }}
) as versions
where version_rank = 1
