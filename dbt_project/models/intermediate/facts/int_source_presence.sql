-- Which optional sources have ever delivered rows. A fact that depends on an absent source is
-- NULL ("unknown"), never a zero that looks like data (SPEC §1).
select
    (select count(*) from {{ source('raw', 'customers') }}) > 0 as has_customers,
    (select count(*) from {{ source('raw', 'products') }}) > 0 as has_products,
    (select count(*) from {{ source('raw', 'tickets') }}) > 0 as has_tickets,
    (select count(*) from {{ source('raw', 'surveys') }}) > 0 as has_surveys,
    (select count(*) from {{ source('raw', 'customer_tags') }}) > 0 as has_customer_tags
