-- Segment migration (SPEC §7): how many external customers moved from each label to each label
-- of the migration schemes (var migration_schemes: lifecycle and value tier) between the
-- previous as-of date in segment_history and D. The previous date is the latest one before D
-- (backfills compare with the date before them, not with the last run). A customer not known
-- on the previous date comes from `not_known`; one known then but not on D goes to
-- `not_known`. No earlier date: no rows.
{%- set schemes = var('migration_schemes') %}

with history as (select * from {{ ref('int_segment_history') }}),

dates as (
    select
        {{ as_of() }} as as_of_date,
        max(as_of_date) filter (where as_of_date < {{ as_of() }}) as previous_as_of_date
    from history
),

current_labels as (
    select history.*
    from history
    inner join dates using (as_of_date)
),

previous_labels as (
    select history.*
    from history
    inner join dates on history.as_of_date = dates.previous_as_of_date
),

moves as (
    {%- for scheme in schemes %}
    select
        '{{ scheme }}' as scheme,
        coalesce(previous_labels.{{ scheme }}, 'not_known') as from_label,
        coalesce(current_labels.{{ scheme }}, 'not_known') as to_label,
        coalesce(current_labels.role, previous_labels.role) as role
    from current_labels
    full outer join previous_labels using (customer_id)
    {{- '\n    union all' if not loop.last }}
    {%- endfor %}
),

counted as (
    select scheme, from_label, to_label, count(*) as customers
    from moves
    where role = 'external'
    group by scheme, from_label, to_label
),

final as (
    select
        dates.as_of_date,
        dates.previous_as_of_date,
        counted.scheme,
        counted.from_label,
        counted.to_label,
        counted.from_label != counted.to_label as is_move,
        counted.customers,
        cast(
            sum(counted.customers) over (partition by counted.scheme, counted.from_label)
            as bigint
        ) as from_customers,
        counted.customers
            / sum(counted.customers) over (partition by counted.scheme, counted.from_label)
            as share_of_from
    from counted
    cross join dates
    where dates.previous_as_of_date is not null
)

select * from final
