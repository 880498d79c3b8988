-- The customer facts of SPEC §3, one row per customer known on D, as computed by
-- int_customer_facts (which the segment and scorecard models read).
select * from {{ ref('int_customer_facts') }}
