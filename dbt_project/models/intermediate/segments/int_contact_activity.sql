-- One row per contact known on D (SPEC §5.11): its latest attributes delivered by D and what it
-- did for its account by D, as the buying-centre role rules read them: orders placed (distinct
-- non-cancelled orders with a purchased line), tickets raised, survey answers and the latest
-- answer's score on the NPS scale (CSAT-only answers mapped, as everywhere), counted within
-- buying_centre_window_days where the rules count. A contact acts only for its own account: an
-- order, ticket or answer naming it under another customer is not its. Contacts of an account
-- not known on D are left out. No contact details: the PII stays in staging.
-- has_order_contacts / has_voice_contacts: whether any order, or any ticket or answer, visible
-- on D names a contact at all; where none does, who did what is unknown, not "nothing".
{%- set window = var('buying_centre_window_days') %}

with delivered as (
    select
        *,
        row_number() over (
            partition by contact_id order by delivered_date desc, source_file desc, source_row desc
        ) as delivery_rank
    from {{ ref('stg_raw__contacts') }}
    where delivered_date <= {{ as_of() }}
),

contacts as (
    select * from delivered
    where delivery_rank = 1
),

customers as (select * from {{ ref('int_customers') }}),

order_lines as (
    select * from {{ ref('stg_raw__orders') }}
    where {{ known_on_as_of('order_date') }} and not is_cancelled and quantity > 0
),

tickets as (
    select * from {{ ref('stg_raw__tickets') }}
    where opened_date <= {{ as_of() }}
),

answers as (
    select * from {{ ref('stg_raw__surveys') }}
    where responded_date <= {{ as_of() }}
),

orders_placed as (
    select
        contact_id,
        customer_id,
        count(distinct order_id) as orders_placed,
        count(distinct order_id) filter (
            where order_date >= {{ window_start(window) }}
        ) as orders_placed_12m,
        max(order_date) as last_order_date
    from order_lines
    where contact_id is not null
    group by contact_id, customer_id
),

-- Every account's latest order, whoever placed it: a decision maker approves them all.
account_orders as (
    select customer_id, max(order_date) as account_last_order_date
    from order_lines
    where customer_id is not null
    group by customer_id
),

raised as (
    select
        contact_id,
        customer_id,
        count(*) filter (where opened_date >= {{ window_start(window) }}) as tickets_12m,
        max(opened_date) as last_ticket_date
    from tickets
    where contact_id is not null
    group by contact_id, customer_id
),

answered as (
    select
        contact_id,
        customer_id,
        count(*) filter (where responded_date >= {{ window_start(window) }}) as answers_12m,
        count(*) filter (
            where responded_date >= {{ window_start(window) }} and comment is not null
        ) as commented_answers_12m,
        max(responded_date) as last_answer_date,
        {{ max_by('nps_equivalent', ['responded_at', 'response_id']) }} filter (
            where responded_date >= {{ window_start(window) }}
        ) as latest_score,
        max(responded_date) filter (
            where responded_date >= {{ window_start(window) }}
        ) as latest_score_date
    from answers
    where contact_id is not null
    group by contact_id, customer_id
),

presence as (
    select
        (select count(*) from order_lines where contact_id is not null) > 0
            as has_order_contacts,
        (select count(*) from tickets where contact_id is not null) > 0
            or (select count(*) from answers where contact_id is not null) > 0
            as has_voice_contacts
),

final as (
    select
        contacts.contact_id,
        contacts.customer_id,
        {{ as_of() }} as as_of_date,
        contacts.title,
        contacts.department,
        coalesce(contacts.is_decision_maker, false) as is_decision_maker,
        coalesce(contacts.is_employee, false) as is_employee,
        customers.customer_kind as account_kind,
        coalesce(customers.is_employee, false) as account_is_internal,
        coalesce(orders_placed.orders_placed, 0) as orders_placed,
        coalesce(orders_placed.orders_placed_12m, 0) as orders_placed_12m,
        orders_placed.last_order_date,
        coalesce(raised.tickets_12m, 0) as tickets_12m,
        coalesce(answered.answers_12m, 0) as answers_12m,
        coalesce(answered.commented_answers_12m, 0) as commented_answers_12m,
        answered.latest_score,
        answered.latest_score_date,
        greatest(
            orders_placed.last_order_date, raised.last_ticket_date, answered.last_answer_date
        ) as last_activity_date,
        account_orders.account_last_order_date,
        presence.has_order_contacts,
        presence.has_voice_contacts
    from contacts
    inner join customers using (customer_id)
    left join orders_placed using (contact_id, customer_id)
    left join raised using (contact_id, customer_id)
    left join answered using (contact_id, customer_id)
    left join account_orders using (customer_id)
    cross join presence
)

select * from final
