-- The recommended action of SPEC §6 with its reason, one row per customer known on D, as
-- computed by int_customer_actions.
select * from {{ ref('int_customer_actions') }}
