-- Per customer: the peer benchmarks of the value tier (SPEC §5.6) and the ten types (§5.9).
-- potential_clv_12m: the growable_potential_quantile of clv_12m among peers with the same
--   acquisition channel, customer kind and tenure band.
-- lookalike_clv_12m: the mean clv_12m of customers with the same acquisition channel, region
--   and customer kind (the look-alike score of a prospect).
-- Peers are external purchasing customers with a known clv_12m (employees buy on other terms).
-- A group with fewer than min_peer_group_size peers widens to channel × kind, then to all peers;
-- *_group says which group was used.
with facts as (select * from {{ ref('int_customer_facts') }}),
clv as (select * from {{ source('model', 'customer_clv') }}),

customers as (
    select
        facts.customer_id,
        facts.acquisition_channel,
        facts.customer_kind,
        facts.region,
        {{ seg_tenure_band('facts.tenure_days') }} as tenure_band,
        facts.occasions >= 1
            and coalesce(facts.is_employee, false) = false
            and clv.clv_12m is not null as is_peer,
        clv.clv_12m
    from facts
    left join clv using (customer_id)
),

peers as (
    select * from customers where is_peer
),

by_channel_kind_band as (
    select
        acquisition_channel,
        customer_kind,
        tenure_band,
        count(*) as peer_customers,
        percentile_cont({{ var('growable_potential_quantile') }}) within group (order by clv_12m)
            as potential_clv_12m
    from peers
    group by acquisition_channel, customer_kind, tenure_band
),

by_channel_kind as (
    select
        acquisition_channel,
        customer_kind,
        count(*) as peer_customers,
        percentile_cont({{ var('growable_potential_quantile') }}) within group (order by clv_12m)
            as potential_clv_12m,
        avg(clv_12m) as lookalike_clv_12m
    from peers
    group by acquisition_channel, customer_kind
),

by_channel_region_kind as (
    select
        acquisition_channel,
        region,
        customer_kind,
        count(*) as peer_customers,
        avg(clv_12m) as lookalike_clv_12m
    from peers
    group by acquisition_channel, region, customer_kind
),

everyone as (
    select
        count(*) as peer_customers,
        percentile_cont({{ var('growable_potential_quantile') }}) within group (order by clv_12m)
            as potential_clv_12m,
        avg(clv_12m) as lookalike_clv_12m
    from peers
),

joined as (
    select
        customers.customer_id,
        customers.acquisition_channel,
        customers.customer_kind,
        customers.region,
        customers.tenure_band,
        ckb.peer_customers as ckb_customers,
        ckb.potential_clv_12m as ckb_potential,
        ck.peer_customers as ck_customers,
        ck.potential_clv_12m as ck_potential,
        ck.lookalike_clv_12m as ck_lookalike,
        crk.peer_customers as crk_customers,
        crk.lookalike_clv_12m as crk_lookalike,
        everyone.peer_customers as all_customers,
        everyone.potential_clv_12m as all_potential,
        everyone.lookalike_clv_12m as all_lookalike
    from customers
    left join by_channel_kind_band as ckb
        on ckb.acquisition_channel = customers.acquisition_channel
        and ckb.customer_kind = customers.customer_kind
        and ckb.tenure_band = customers.tenure_band
    left join by_channel_kind as ck
        on ck.acquisition_channel = customers.acquisition_channel
        and ck.customer_kind = customers.customer_kind
    left join by_channel_region_kind as crk
        on crk.acquisition_channel = customers.acquisition_channel
        and crk.region = customers.region
        and crk.customer_kind = customers.customer_kind
    cross join everyone
),

final as (
    select
        customer_id,
        tenure_band,
        case
            when ckb_customers >= {{ var('min_peer_group_size') }}
                then acquisition_channel || '/' || customer_kind || '/' || tenure_band
            when ck_customers >= {{ var('min_peer_group_size') }}
                then acquisition_channel || '/' || customer_kind
            when all_customers > 0 then 'all'
        end as peer_group,
        case
            when ckb_customers >= {{ var('min_peer_group_size') }} then ckb_customers
            when ck_customers >= {{ var('min_peer_group_size') }} then ck_customers
            when all_customers > 0 then all_customers
        end as peer_customers,
        case
            when ckb_customers >= {{ var('min_peer_group_size') }} then ckb_potential
            when ck_customers >= {{ var('min_peer_group_size') }} then ck_potential
            else all_potential
        end as potential_clv_12m,
        case
            when crk_customers >= {{ var('min_peer_group_size') }}
                then acquisition_channel || '/' || region || '/' || customer_kind
            when ck_customers >= {{ var('min_peer_group_size') }}
                then acquisition_channel || '/' || customer_kind
            when all_customers > 0 then 'all'
        end as lookalike_group,
        case
            when crk_customers >= {{ var('min_peer_group_size') }} then crk_customers
            when ck_customers >= {{ var('min_peer_group_size') }} then ck_customers
            when all_customers > 0 then all_customers
        end as lookalike_customers,
        case
            when crk_customers >= {{ var('min_peer_group_size') }} then crk_lookalike
            when ck_customers >= {{ var('min_peer_group_size') }} then ck_lookalike
            else all_lookalike
        end as lookalike_clv_12m
    from joined
)

select * from final
