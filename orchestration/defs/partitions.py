"""The as-of date D as a Dagster partition: one partition per day, backfillable from the UI."""

import dagster as dg

from orchestration import settings

# end_offset=1 lets a manual run use today's date when today's drop has already landed.
as_of_partitions = dg.DailyPartitionsDefinition(
    start_date=settings.PARTITION_START,
    timezone=settings.TIMEZONE,
    end_offset=1,
)

# One run per as-of date: the warehouse holds one D at a time, so a backfill over many dates
# must run them one after another, never as one run over a date range.
one_date_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
