-- One personality tag given to a customer by a sales rep.
select
    customer_id,
    lower(tag) as tag,
    tagged_at,
    cast(tagged_at as date) as tagged_date,
    tagged_by
from {{ source('raw', 'customer_tags') }}
where _visible_from <= {{ as_of() }}
