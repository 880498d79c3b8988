-- One row per (customer, personality type) on D (SPEC §5.10): the sales-psychology types reps
-- gave in customer_tags up to D, plus price_breaker derived from buying behaviour (orders_12m ≥
-- price_breaker_min_orders_12m and discount_share_12m ≥ price_breaker_discount_share).
-- Rep tags are matched on the type code after lower-casing and mapping spaces and hyphens to
-- underscores; tags that name no known type are left out. Customers without a type have no row.
with facts as (select * from {{ ref('int_customer_facts') }}),

tags as (
    select * from {{ ref('stg_raw__customer_tags') }}
    where tagged_date <= {{ as_of() }}
),

types as (select * from {{ ref('personality_types') }}),

rep_tags as (
    select
        tags.customer_id,
        replace(replace(tags.tag, ' ', '_'), '-', '_') as personality_type,
        count(*) as rep_tags,
        max(tags.tagged_at) as last_tagged_at
    from tags
    inner join facts using (customer_id)
    group by 1, 2
),

derived as (
    select
        customer_id,
        'price_breaker' as personality_type,
        orders_12m,
        discount_share_12m
    from facts
    where orders_12m >= {{ var('price_breaker_min_orders_12m') }}
        and discount_share_12m >= {{ var('price_breaker_discount_share') }}
),

combined as (
    select
        coalesce(tagged.customer_id, derived.customer_id) as customer_id,
        coalesce(tagged.personality_type, derived.personality_type) as personality_type,
        coalesce(tagged.rep_tags, 0) as rep_tags,
        tagged.last_tagged_at,
        derived.customer_id is not null as is_derived,
        derived.orders_12m,
        derived.discount_share_12m
    from rep_tags as tagged
    full outer join derived using (customer_id, personality_type)
),

-- The evidence as the reasons quote it.
quoted as (
    select
        *,
        'tagged by reps ' || cast(rep_tags as {{ text_type() }}) || '×, last on '
            || {{ seg_date('cast(last_tagged_at as date)') }} as rep_txt,
        cast(orders_12m as {{ text_type() }}) || ' orders in 12m ≥ '
            || '{{ var("price_breaker_min_orders_12m") }} and discount share '
            || {{ seg_num('discount_share_12m', 2) }} || ' ≥ '
            || '{{ var("price_breaker_discount_share") }}' as derived_txt
    from combined
),

sourced as (
    select
        *,
        {{ first_match('personality_source', [
            ("rep_tags > 0 and is_derived", "rep_and_derived", "rep_txt || '; ' || derived_txt"),
            ("is_derived", "derived", "derived_txt"),
            ("true", "rep", "rep_txt"),
        ], reason_column='personality_reason') }}
    from quoted
),

final as (
    select
        sourced.customer_id,
        {{ as_of() }} as as_of_date,
        sourced.personality_type,
        sourced.personality_source,
        sourced.rep_tags,
        sourced.last_tagged_at,
        sourced.personality_reason,
        types.handling_advice
    from sourced
    inner join types on types.personality_type = sourced.personality_type
)

select * from final
