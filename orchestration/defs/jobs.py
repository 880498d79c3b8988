"""How runs start: the nightly schedule, the new-drop sensor and the job both use."""

import datetime as dt

import dagster as dg

from orchestration import settings
from orchestration.contract import SOURCES
from orchestration.defs.partitions import as_of_partitions
from orchestration.ingest import find_drops

WAREHOUSE_TAG = {"clientele/warehouse": "write"}

# Everything for one as-of date, in one process: the warehouse has a single writer.
nightly_job = dg.define_asset_job(
    name="clientele_nightly",
    selection=dg.AssetSelection.all(),
    partitions_def=as_of_partitions,
    executor_def=dg.in_process_executor,
    tags=WAREHOUSE_TAG,
    description="Ingest, transform, model, segment, validate and publish for one as-of date.",
)

# 02:00 every night (CLIENTELE_TIMEZONE) for D = yesterday, the latest complete partition.
nightly_schedule = dg.build_schedule_from_partitioned_job(
    nightly_job, hour_of_day=2, minute_of_hour=0, name="clientele_nightly_schedule"
)


def newest_drop(raw_dir) -> tuple[dt.date | None, str]:
    """The latest drop date on disk and a cursor that changes whenever a drop file changes."""
    latest: dt.date | None = None
    stamps: list[str] = []
    for source in SOURCES:
        for drop_date, files in find_drops(raw_dir / source).items():
            latest = max(latest, drop_date) if latest else drop_date
            stamps.extend(f"{f}:{f.stat().st_mtime_ns}" for f in files)
    return latest, str(hash(tuple(sorted(stamps))))


@dg.sensor(
    job=nightly_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Runs the pipeline for the newest drop date when raw files appear or change.",
)
def new_raw_files_sensor(context: dg.SensorEvaluationContext):
    latest, cursor = newest_drop(settings.current().raw)
    if latest is None or cursor == context.cursor:
        return dg.SkipReason("no new or changed raw files")
    context.update_cursor(cursor)
    return dg.RunRequest(run_key=f"{latest.isoformat()}:{cursor}", partition_key=latest.isoformat())
