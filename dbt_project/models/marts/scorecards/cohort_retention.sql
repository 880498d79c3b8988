-- Cohort retention (SPEC §7): external customers grouped by the month of their first purchase
-- occasion; for that month and every later month up to D's, the share of the cohort with an
-- occasion in the month. Dense: a month nobody of the cohort bought in is a zero row. D's month
-- is partial (is_partial_month) unless D is its last day.

with customers as (
    select * from {{ ref('int_scorecard_customers') }}
    where role = 'external' and first_purchase_date is not null
),

occasions as (select * from {{ ref('int_purchase_occasions') }}),

cohorts as (
    select
        customer_id,
        {{ month_start('first_purchase_date') }} as cohort_month
    from customers
),

cohort_sizes as (
    select cohort_month, count(*) as cohort_customers
    from cohorts
    group by cohort_month
),

-- Every month from the first cohort's to D's; each cohort takes those from its own on.
months as (
    select series.month as activity_month
    from {{ calendar_months(
        '(select min(cohort_month) from cohort_sizes)', month_start(as_of())
    ) }} as series
),

grid as (
    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_customers,
        months.activity_month
    from cohort_sizes
    inner join months on months.activity_month >= cohort_sizes.cohort_month
),

active as (
    select
        cohorts.cohort_month,
        {{ month_start('occasions.occasion_date') }} as activity_month,
        count(distinct occasions.customer_id) as active_customers
    from occasions
    inner join cohorts using (customer_id)
    group by 1, 2
),

final as (
    select
        {{ as_of() }} as as_of_date,
        grid.cohort_month,
        grid.activity_month,
        {{ whole_months_between('grid.activity_month', 'grid.cohort_month') }}
            as months_since_first,
        grid.cohort_customers,
        coalesce(active.active_customers, 0) as active_customers,
        coalesce(active.active_customers, 0) / grid.cohort_customers as retention_rate,
        grid.activity_month = {{ month_start(as_of()) }}
            and {{ as_of() }} < {{ month_end('grid.activity_month') }} as is_partial_month
    from grid
    left join active using (cohort_month, activity_month)
)

select * from final
