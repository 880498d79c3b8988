-- The data-quality summary of the raw drops up to D (SPEC §1, §9): per source and quarantine
-- reason, the rows read, staged and quarantined, and whether every file reconciles (rows read
-- = staged + quarantined). reason 'all' is the source's total; reasons are only counts here,
-- the raw records stay in the working warehouse.
-- depends_on: {{ source('raw', 'orders') }}, {{ source('raw', 'customers') }},
-- {{ source('raw', 'contacts') }}, {{ source('raw', 'products') }},
-- {{ source('raw', 'tickets') }}, {{ source('raw', 'surveys') }},
-- {{ source('raw', 'customer_tags') }}

-- Drops dated up to D, and history files (imported exports: loaded whatever the as-of date).
with reconciliation as (
    select * from {{ source('ingest', 'reconciliation') }}
    where drop_date <= {{ as_of() }} or history
),

quarantine as (
    select quarantine.*
    from {{ source('ingest', 'quarantine') }} as quarantine
    semi join reconciliation using (source, file)
),

per_source as (
    select
        source,
        count(*) as files,
        min(drop_date) as first_drop_date,
        max(drop_date) as last_drop_date,
        cast(sum(rows_read) as bigint) as rows_read,
        cast(sum(rows_staged) as bigint) as rows_staged,
        cast(sum(rows_quarantined) as bigint) as rows_quarantined,
        count(*) filter (where rows_read != rows_staged + rows_quarantined)
            as files_not_reconciling
    from reconciliation
    group by source
),

per_reason as (
    select source, reason, count(*) as rows_quarantined
    from quarantine
    group by source, reason
),

final as (
    select
        {{ as_of() }} as as_of_date,
        per_source.source,
        'all' as reason,
        per_source.files,
        per_source.first_drop_date,
        per_source.last_drop_date,
        per_source.rows_read,
        per_source.rows_staged,
        per_source.rows_quarantined,
        per_source.rows_quarantined / nullif(per_source.rows_read, 0) as quarantine_rate,
        per_source.files_not_reconciling
    from per_source
    union all
    select
        {{ as_of() }},
        per_reason.source,
        per_reason.reason,
        cast(null as bigint),
        cast(null as date),
        cast(null as date),
        per_source.rows_read,
        cast(null as bigint),
        per_reason.rows_quarantined,
        per_reason.rows_quarantined / nullif(per_source.rows_read, 0),
        cast(null as bigint)
    from per_reason
    left join per_source using (source)
)

select * from final
