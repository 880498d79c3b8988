-- Every CRM label of SPEC §5 with its reason, one row per customer known on D, as computed by
-- int_customer_segments (which the actions, history and scorecards read).
select * from {{ ref('int_customer_segments') }}
