"""The as-of date D as a Dagster partition: one partition per day, backfillable from the UI."""

import dagster as dg

from orchestration import settings

# end_offset=1 lets a manual run use today's date when today's drop has already landed.
as_of_partitions = dg.DailyPartitionsDefinition(
    start_date=settings.PARTITION_START,
    timezone=settings.TIMEZONE,
    end_offset=1,
)
