-- Per customer known on D: its buying centre (SPEC §5.11) as the account's action reads it —
-- contacts per role, whether it has a wallet at all, how many wallets and allies are active
-- (int_contact_roles.is_active) and when a wallet last was. Every count is NULL, not 0, when the
-- contacts source has never delivered a row: unknown is not "none" (SPEC §1).
with customers as (select * from {{ ref('int_customers') }}),
roles as (select * from {{ ref('int_contact_roles') }}),

presence as (
    select (select count(*) from {{ source('raw', 'contacts') }}) > 0 as has_contacts_source
),

per_account as (
    select
        customer_id,
        count(*) as contacts,
        count(*) filter (where contact_role = 'wallet') as wallets,
        count(*) filter (where contact_role = 'ally') as allies,
        count(*) filter (where contact_role = 'internal') as internal_contacts,
        count(*) filter (where contact_role = 'windbag') as windbags,
        count(*) filter (where contact_role = 'unknown') as unknown_contacts,
        count(*) filter (where contact_role = 'wallet' and is_active) as active_wallets,
        count(*) filter (where contact_role = 'ally' and is_active) as active_allies,
        max(
            greatest(
                last_activity_date,
                case when is_decision_maker then account_last_order_date end
            )
        ) filter (where contact_role = 'wallet') as last_wallet_date
    from roles
    group by customer_id
),

final as (
    select
        customers.customer_id,
        presence.has_contacts_source,
        {%- for column in ['contacts', 'wallets', 'allies', 'internal_contacts', 'windbags',
                           'unknown_contacts', 'active_wallets', 'active_allies'] %}
        case when presence.has_contacts_source then coalesce(per_account.{{ column }}, 0) end
            as {{ column }},
        {%- endfor %}
        case when presence.has_contacts_source then coalesce(per_account.wallets, 0) > 0 end
            as has_wallet,
        per_account.last_wallet_date
    from customers
    cross join presence
    left join per_account using (customer_id)
)

select * from final
