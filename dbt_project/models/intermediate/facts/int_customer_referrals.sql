-- Per referrer: referred customers who have made a purchase by D, and those whose first
-- purchase fell in the 12m window (enthusiasts bring others, SPEC §5.3).
with referred as (
    select customers.referred_by as referrer_id, occasions.first_purchase_date
    from {{ ref('int_customers') }} as customers
    inner join (
        select customer_id, min(occasion_date) as first_purchase_date
        from {{ ref('int_purchase_occasions') }}
        group by customer_id
    ) as occasions using (customer_id)
    where customers.referred_by is not null
)

select
    referrer_id as customer_id,
    count(*) as referrals_count,
    count(*) filter (
        where first_purchase_date >= {{ window_start(var('window_12m_days')) }}
    ) as referrals_12m
from referred
group by referrer_id
