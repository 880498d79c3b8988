-- Every customer known on D: signed up on or before D, or seen on an order line by D.
-- Guests (order lines without a customer) are not customers.
with versions as (
    select * from {{ ref('stg_raw__customers') }}
    where delivered_date <= {{ as_of() }}
),

-- A customer delivered again in a later drop takes the latest attributes delivered by D.
registered as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by customer_id
                order by delivered_date desc, source_file desc, source_row desc
            ) as version_rank
        from versions
        where signed_up_date <= {{ as_of() }}
    ) as ranked
    where version_rank = 1
),

buyers as (
    select customer_id, min(order_date) as first_seen_date
    from {{ ref('int_customer_orders') }}
    group by customer_id
)

select
    coalesce(registered.customer_id, buyers.customer_id) as customer_id,
    registered.signed_up_date,
    coalesce(registered.signed_up_date, buyers.first_seen_date) as known_since_date,
    registered.customer_id is not null as is_registered,
    coalesce(registered.customer_kind, 'unknown') as customer_kind,
    registered.is_employee,
    registered.referred_by,
    coalesce(registered.acquisition_channel, 'unknown') as acquisition_channel,
    registered.acquisition_cost,
    coalesce(registered.region, 'unknown') as region
from registered
full outer join buyers using (customer_id)
