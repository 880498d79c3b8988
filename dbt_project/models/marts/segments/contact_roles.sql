-- The buying-centre role of every contact known on D (SPEC §5.11) with the reason and the
-- activity that decided it, as computed by int_contact_roles. No contact details: contact_id
-- and the account's customer_id are the keys a CRM matches on.
select * from {{ ref('int_contact_roles') }}
