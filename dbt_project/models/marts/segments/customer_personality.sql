-- The personality types of SPEC §5.10 with handling advice, one row per (customer, type), as
-- computed by int_customer_personality.
select * from {{ ref('int_customer_personality') }}
