"""Running nights outside the UI: one as-of date, or a backfill of many, in this process.

The CLI (and the tests and benchmarks) run the nightly job in-process through :func:`run_night`
while holding the warehouse lock; :func:`backfill_dates` says which dates a backfill computes.
The Dagster instance lives in the clientele home, configured by :func:`prepare_dagster_home`.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from orchestration import publish, settings
from orchestration.ingest.drops import find_drops
from orchestration.operations.locks import Holder, LockHeld, OsLock

NIGHTLY_JOB = "clientele_nightly"
BACKFILL_TAG = "clientele/backfill"
AS_OF_TAG = "clientele/as_of"
EVERY = {"day", "week", "month"}

DAGSTER_YAML_MARK = "# Written by clientele"
DAGSTER_YAML = f"""\
{DAGSTER_YAML_MARK} (orchestration/operations/nights.py), and rewritten when clientele
# changes it; remove this first line to keep your own settings.
# One warehouse-writing run at a time: others wait in the queue.
concurrency:
  runs:
    tag_concurrency_limits:
      - key: "clientele/warehouse"
        limit: 1
# Run monitoring asks the launcher whether a running run's process still lives (its liveness
# lock, orchestration/operations/runs.py) and fails dead runs, so a crash or a reboot during a
# run never keeps the queue waiting.
run_launcher:
  module: orchestration.operations.runs
  class: ClienteleRunLauncher
run_monitoring:
  enabled: true
  poll_interval_seconds: 10
  start_timeout_seconds: 180
  max_resume_run_attempts: 0
telemetry:
  enabled: false
"""


class WarehouseBusy(RuntimeError):
    """Another live process writes the warehouse."""


def prepare_dagster_home(paths: settings.Paths) -> Path:
    """The Dagster instance folder of the clientele home, configured as above."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    current = config.read_text() if config.exists() else None
    if current is None or (current.startswith(DAGSTER_YAML_MARK) and current != DAGSTER_YAML):
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def latest_data_date(paths: settings.Paths) -> dt.date:
    """The as-of date of a manual run: the newest drop date of the orders source."""
    drops = find_drops(paths.source_dir("orders"))
    if not drops:
        raise FileNotFoundError(f"no order drops under {paths.source_dir('orders')}")
    return max(drops)


def warehouse_lock(paths: settings.Paths) -> OsLock:
    """The one-writer lock of the home's warehouse."""
    return OsLock(paths.warehouse.with_name("writer.lock"))


@contextmanager
def holding_warehouse(
    paths: settings.Paths, holder: Holder, *, wait: bool, log=None
) -> Iterator[None]:
    """Hold the warehouse for ``holder``: wait for it (a queued run), or raise
    :class:`WarehouseBusy` naming the holder at once (a person at the CLI)."""
    lock = warehouse_lock(paths)
    try:
        lock.acquire(holder, wait=False)
    except LockHeld as held:
        if not wait:
            raise WarehouseBusy(
                f"the warehouse {paths.warehouse} is being written by "
                f"{held.holder.describe() if held.holder else 'another process'}; "
                "try again when that run has ended"
            ) from None
        if log is not None:
            log.info(f"waiting for the warehouse: {held}")
        lock.acquire(holder, wait=True)
    try:
        yield
    finally:
        lock.release(holder)


def night_config(
    as_of: dt.date, *, publish_older: bool = False, full_refresh: bool = False
) -> dict:
    """The run config of one night (the ``night`` resource)."""
    config = {"as_of": as_of.isoformat(), "publish_older": publish_older}
    if full_refresh:
        config["full_refresh"] = True
    return {"resources": {"night": {"config": config}}}


def run_night(
    paths: settings.Paths,
    as_of: dt.date,
    *,
    job: dg.JobDefinition,
    publish_older: bool = False,
    full_refresh: bool = False,
    tags: dict[str, str] | None = None,
    instance: dg.DagsterInstance | None = None,
    run_id: str | None = None,
    log_level: str = "INFO",
) -> dg.ExecuteInProcessResult:
    """Materialize every asset of ``job`` (the nightly job: ``definitions.nightly_job()``) for
    ``as_of`` in this process.

    The job's warehouse resource takes the warehouse lock (re-entrantly if this process, a CLI
    command or a backfill, already holds it)."""
    run_config = night_config(as_of, publish_older=publish_older, full_refresh=full_refresh)
    run_config["loggers"] = {"console": {"config": {"log_level": log_level}}}
    run_tags = {AS_OF_TAG: as_of.isoformat(), **(tags or {})}

    def execute(on: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
        return job.execute_in_process(
            run_config=run_config,
            instance=on,
            tags=run_tags,
            run_id=run_id or str(uuid.uuid4()),
            raise_on_error=False,
        )

    if instance is not None:
        return execute(instance)
    prepare_dagster_home(paths)
    with dg.DagsterInstance.get() as own:
        return execute(own)


def plan_backfill(
    paths: settings.Paths, start: dt.date, end: dt.date | None, every: str
) -> list[dt.date]:
    """The as-of dates of a backfill of this home: ``end`` defaults to the latest order drop
    date, and the newest of that and the published date comes last."""
    latest = latest_data_date(paths)
    published = publish.published_as_of(publish.read_log(paths.published))
    newest = max(d for d in (latest, published, end) if d is not None)
    return backfill_dates(start, end or latest, every, latest=newest)


def backfill_dates(
    start: dt.date, end: dt.date, every: str, latest: dt.date | None = None
) -> list[dt.date]:
    """``start``, then every day, week or month after it up to ``end`` (included), then
    ``latest`` if it is newer: the night a backfill ends on, so the warehouse and the published
    file finish at the newest date."""
    if every not in EVERY:
        raise ValueError(f"every must be one of {', '.join(sorted(EVERY))}, not {every!r}")
    if end < start:
        raise ValueError(f"the backfill ends ({end}) before it starts ({start})")
    dates, day, step = [], start, 0
    while day <= end:
        dates.append(day)
        step += 1
        day = _nth(start, every, step)
    if dates[-1] != end:
        dates.append(end)
    if latest is not None and latest > dates[-1]:
        dates.append(latest)
    return dates


def _nth(start: dt.date, every: str, n: int) -> dt.date:
    if every == "day":
        return start + dt.timedelta(days=n)
    if every == "week":
        return start + dt.timedelta(weeks=n)
    month = start.month - 1 + n
    year, month = start.year + month // 12, month % 12 + 1
    # The same day of the month, or the month's last day (Jan 31 -> Feb 28 -> Mar 31).
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(start.day, last))


def failure_lines(result: dg.ExecuteInProcessResult) -> list[str]:
    """What failed in a run: the steps, then each step's error message."""
    failed = [e for e in result.all_events if e.is_step_failure]
    steps = f" (steps: {', '.join(e.step_key for e in failed)})" if failed else ""
    lines = [f"run {result.run_id} FAILED{steps}"]
    for event in failed:
        if event.step_failure_data.error:
            lines.append(event.step_failure_data.error.message.strip())
    for event in result.all_events:  # a resource that could not start (e.g. a corrupt file)
        if event.event_type_value == "RESOURCE_INIT_FAILURE" and event.event_specific_data:
            lines.append(event.event_specific_data.error.message.strip())
    return lines


NOTHING_PUBLISHED = "nothing published"  # the publication step never ran


def publication_lines(result: dg.ExecuteInProcessResult) -> list[str]:
    """Whether the run replaced the published file, from the exports asset's metadata."""
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.path == ["exports", "clientele"]:
            metadata = {k: v.value for k, v in materialization.metadata.items()}
            if metadata.get("published"):
                return [f"published as of {metadata['as_of_date']}"]
            return [str(metadata.get("not_published_because", "not published"))]
    return [NOTHING_PUBLISHED]


def warning_lines(result: dg.ExecuteInProcessResult) -> list[str]:
    """Every warning-level check that did not pass, with what it found."""
    return [
        f"WARNING {'/'.join(e.asset_key.path)} {e.check_name}: "
        + (e.description or "did not pass; see its metadata in the Dagster UI")
        for e in result.get_asset_check_evaluations()
        if not e.passed and e.severity == dg.AssetCheckSeverity.WARN
    ]
