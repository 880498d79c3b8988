-- SPEC §5.11 buying-centre roles, one per contact known on D, first match, each with the reason
-- that decided it: internal (one of our own people), wallet (places or approves the orders),
-- windbag (much contact, no order, no decision role), ally (uses, orders nothing, speaks well),
-- unknown (the sources do not say who did what, or there is nothing to judge by). A negative
-- or missing voice is no ally: a user who complains is not on our side just for using us.
-- is_active: an order, ticket or answer within buying_centre_active_days (for a decision
-- maker also an order of its account, which it approves); the account's action reads it.
{%- set window = var('buying_centre_window_days') %}
{%- set text = text_type() %}
{%- set min_orders = var('wallet_min_orders') %}
{%- set windbag_min = var('windbag_min_contacts') %}
{%- set ally_min = var('ally_min_score') %}
{%- set uses = "'uses (' || tickets_txt || ' and ' || answers_txt || ' in " ~ window ~ "d, no order)'" %}
{%- set rules = [
    ("is_employee", "internal", "'is_employee = true: one of our own people'"),
    ("account_is_internal", "internal", "'contact of an internal customer (an employee)'"),
    ("orders_placed >= " ~ min_orders, "wallet",
        "'placed ' || cast(orders_placed as " ~ text ~ ") || ' orders by D (the last on '"
        ~ " || " ~ seg_date('last_order_date') ~ " || ') ≥ " ~ min_orders ~ "'"),
    ("is_decision_maker", "wallet", "'is_decision_maker = true: approves the orders'"),
    ("not has_order_contacts", "unknown",
        "'no order names a contact: who places the orders is unknown'"),
    ("not has_voice_contacts", "unknown",
        "'no ticket or survey answer names a contact: who uses and talks is unknown'"),
    ("contacts_12m >= " ~ windbag_min, "windbag",
        "cast(contacts_12m as " ~ text ~ ") || ' tickets and commented answers in " ~ window
        ~ "d ≥ " ~ windbag_min ~ ", no order, no decision role'"),
    ("is_user and latest_score >= " ~ ally_min, "ally",
        uses ~ " || '; latest answer ' || score_txt || ' ≥ " ~ ally_min ~ "'"),
    ("is_user and latest_score is not null", "unknown",
        uses ~ " || ' but the latest answer ' || score_txt || ' < " ~ ally_min
        ~ ": no positive voice'"),
    ("is_user", "unknown", uses ~ " || ' but no survey answer in " ~ window ~ "d: voice unknown'"),
    ("true", "unknown", "'no order, ticket or survey answer by D and no decision role'"),
] %}

with activity as (select * from {{ ref('int_contact_activity') }}),

quoted as (
    select
        *,
        tickets_12m + commented_answers_12m as contacts_12m,
        tickets_12m + answers_12m > 0 as is_user,
        cast(tickets_12m as {{ text }}) || ' tickets' as tickets_txt,
        cast(answers_12m as {{ text }}) || ' survey answers' as answers_txt,
        {{ seg_num('latest_score') }} || ' on ' || {{ seg_date('latest_score_date') }}
            as score_txt,
        coalesce(
            greatest(
                last_activity_date,
                case when is_decision_maker then account_last_order_date end
            ) >= {{ window_start(var('buying_centre_active_days')) }},
            false
        ) as is_active
    from activity
),

final as (
    select
        contact_id,
        customer_id,
        as_of_date,
        title,
        department,
        is_decision_maker,
        is_employee,
        account_kind,
        account_is_internal,
        {{ first_match('contact_role', rules) }},
        is_active,
        orders_placed,
        orders_placed_12m,
        last_order_date,
        tickets_12m,
        answers_12m,
        commented_answers_12m,
        latest_score,
        latest_score_date,
        last_activity_date,
        account_last_order_date
    from quoted
)

select * from final
