"""How runs start: the nightly job, its schedule, the new-drop sensor and backfills.

The assets are not partitioned: the warehouse holds the state of one as-of date at a time (the
last run's), so a daily partition shown as materialized would claim data that the next run
replaced. The as-of date D is run configuration instead (the ``night`` resource), and every
materialization says in its metadata which D it was computed for. What is kept per date lives
outside the assets' current state: ``exports/<D>/`` with the report, ``segment_history`` and the
published file's history. A backfill is a run of ``clientele_backfill``, which runs the nightly
job once per date, in order, each as its own run.
"""

import datetime as dt

import dagster as dg
from pydantic import Field

from orchestration import settings
from orchestration.defs.resources import Warehouse
from orchestration.ingest.contract import SOURCES
from orchestration.ingest.drops import find_drops
from orchestration.operations import nights
from orchestration.operations.runs import WAREHOUSE_TAG

# Everything for one as-of date, in one process: the warehouse has a single writer.
nightly_job = dg.define_asset_job(
    name=nights.NIGHTLY_JOB,
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    tags=WAREHOUSE_TAG,
    description=(
        "Ingest, transform, model, segment, validate and publish for one as-of date "
        "(resources.night.config.as_of; empty: the latest order drop date)."
    ),
)


def night_request(as_of: dt.date, run_key: str | None = None) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        run_config=nights.night_config(as_of),
        tags={nights.AS_OF_TAG: as_of.isoformat()},
    )


@dg.schedule(
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone=settings.TIMEZONE,
    name="clientele_nightly_schedule",
    description="02:00 every night (CLIENTELE_TIMEZONE) for D = yesterday.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    yesterday = context.scheduled_execution_time.date() - dt.timedelta(days=1)
    return night_request(yesterday, run_key=yesterday.isoformat())


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
    return night_request(latest, run_key=f"{latest.isoformat()}:{cursor}")


class BackfillConfig(dg.Config):
    """Which as-of dates a backfill computes: ``from_date``, then every day, week or month up to
    ``to_date`` (empty: the latest order drop date), then the latest of that and the published
    date, so the warehouse and the published file end at the newest date."""

    from_date: str = Field(description="YYYY-MM-DD, the first as-of date")
    to_date: str = Field(default="", description="YYYY-MM-DD; empty: the latest order drop date")
    every: str = Field(default="month", description="day, week or month")
    publish_older: bool = Field(
        default=False, description="Publish each date even when an older one than published."
    )


@dg.op(description="Runs the nightly job for each as-of date of the backfill, in order.")
def backfill_op(
    context: dg.OpExecutionContext, config: BackfillConfig, warehouse: Warehouse
) -> list[str]:
    dates = nights.plan_backfill(
        warehouse.paths,
        dt.date.fromisoformat(config.from_date),
        dt.date.fromisoformat(config.to_date) if config.to_date else None,
        config.every,
    )
    context.log.info(f"backfill of {len(dates)} as-of dates: {', '.join(map(str, dates))}")
    done: list[str] = []
    for as_of in dates:
        result = nights.run_night(
            warehouse.paths,
            as_of,
            publish_older=config.publish_older,
            tags={nights.BACKFILL_TAG: context.run.run_id},
            job=context.repository_def.get_job(nights.NIGHTLY_JOB),
            instance=context.instance,
        )
        if not result.success:
            raise dg.Failure(
                f"the night {as_of} failed (run {result.run_id}); the backfill stopped there",
                metadata={"dates_done": dg.MetadataValue.json(done)},
            )
        context.log.info(f"{as_of}: done (run {result.run_id})")
        done.append(as_of.isoformat())
    return done


@dg.job(
    name="clientele_backfill",
    executor_def=dg.in_process_executor,
    tags=WAREHOUSE_TAG,
    description=(
        "History over as-of dates: runs clientele_nightly once per date (from_date, every day, "
        "week or month, to_date, then the newest), in order, each as its own run tagged with "
        "this one. Older dates write their exports, report and segment history; the published "
        "file only moves forward."
    ),
)
def backfill_job():
    backfill_op()
