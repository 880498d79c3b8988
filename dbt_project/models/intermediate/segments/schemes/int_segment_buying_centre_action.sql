-- SPEC §5.11 the account's buying-centre action, first match, from its contacts' roles
-- (int_account_buying_centre, via int_segment_inputs): an individual without contacts has no
-- buying centre (not_applicable, never a guess); without contacts, or without a contact whose
-- role is decidable, it is unknown; an account whose every wallet went silent for
-- buying_centre_active_days while an ally stays active is at risk (reach_wallet); then no
-- wallet at all (find_wallet); windbags outnumbering wallets and allies (limit_windbags);
-- else none.
{%- set active = var('buying_centre_active_days') %}
{%- set centre = "wallets_txt || ', ' || allies_txt || ', ' || windbags_txt" %}
{%- set text = text_type() %}
{%- set rules = [
    ("coalesce(contacts, 0) = 0 and customer_kind = 'individual'", "not_applicable",
        "'individual customer without contacts: no buying centre'"),
    ("contacts is null", "unknown", "'no contacts source: who is who at the account is unknown'"),
    ("contacts = 0", "unknown", "'no contact known for this ' || customer_kind || ' account'"),
    ("wallets + allies + windbags = 0", "unknown",
        "cast(contacts as " ~ text ~ ") || ' contacts, none a wallet, ally or windbag ('"
        ~ " || cast(internal_contacts as " ~ text ~ ") || ' internal, '"
        ~ " || cast(unknown_contacts as " ~ text ~ ") || ' unknown)'"),
    ("wallets > 0 and active_wallets = 0 and active_allies > 0", "reach_wallet",
        "'at risk: no wallet active in " ~ active ~ "d (last on ' || "
        ~ seg_date('last_wallet_date') ~ " || ', ' || wallets_txt || ') while '"
        ~ " || cast(active_allies as " ~ text ~ ") || ' allies are'"),
    ("wallets = 0", "find_wallet",
        "'no wallet among ' || cast(contacts as " ~ text ~ ") || ' contacts (' || allies_txt"
        ~ " || ', ' || windbags_txt || '): nobody known places or approves the orders'"),
    ("windbags > wallets + allies", "limit_windbags",
        "windbags_txt || ' > ' || wallets_txt || ' + ' || allies_txt"),
    ("true", "none",
        centre ~ " || ' (' || cast(active_wallets as " ~ text ~ ") || ' wallets active in "
        ~ active ~ "d): no buying-centre risk'"),
] %}

with customers as (
    select
        *,
        cast(wallets as {{ text }}) || ' wallets' as wallets_txt,
        cast(allies as {{ text }}) || ' allies' as allies_txt,
        cast(windbags as {{ text }}) || ' windbags' as windbags_txt
    from {{ ref('int_segment_ten_types') }}
)

select
    *,
    {{ first_match('buying_centre_action', rules) }}
from customers
