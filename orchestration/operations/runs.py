"""Telling a dead run from a live one, and failing the dead ones, without a human.

Every clientele run holds a *liveness lock* (``$DAGSTER_HOME/run_locks/<run id>.lock``, an OS
lock: :mod:`orchestration.operations.locks`) from its first step to its end. When the run ends
its steps it renames the file to ``<run id>.done``. So, for a run the instance says is still
running:

- a ``.lock`` file that nobody holds: the process died (kill -9, out of memory, reboot) -> dead;
- a ``.done`` file: the run finished its steps and is writing its final status; dead only if it
  is still "running" ``FINISH_GRACE`` later;
- no file: the run has not reached its first step yet; dead only if it started more than
  ``START_GRACE`` ago.

Dead runs are marked failed, with the reason, by the next run that takes the warehouse (CLI)
and by Dagster's run monitoring (daemon: the UI and the schedule), through
:class:`ClienteleRunLauncher`'s health check. Once a dead run is failed, the queue's one-writer
tag limit frees and the next queued run starts.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

# Not exported by ``dagster``, but the documented types of a run launcher's health check (the
# hook run monitoring calls); tests/test_operations.py fails if an upgrade moves them.
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

from orchestration.operations.locks import Holder, OsLock, is_locked

# Runs that write the warehouse carry this tag; the instance's queue admits one at a time.
WAREHOUSE_TAG = {"clientele/warehouse": "write"}
START_GRACE = dt.timedelta(minutes=2)
FINISH_GRACE = dt.timedelta(minutes=10)
RUNNING = (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)


def liveness_dir(instance: dg.DagsterInstance) -> Path:
    return Path(instance.root_directory) / "run_locks"


@contextmanager
def liveness(instance: dg.DagsterInstance, run_id: str, what: str) -> Iterator[None]:
    """Hold the run's liveness lock while the body runs; mark a clean end with ``.done``."""
    folder = liveness_dir(instance)
    lock = OsLock(folder / f"{run_id}.lock")
    holder = Holder.now(run_id, what)
    lock.acquire(holder, wait=False)
    try:
        yield
    finally:
        lock.path.replace(folder / f"{run_id}.done")  # still held: never seen as dead
        lock.release(holder)


def death_reason(instance: dg.DagsterInstance, record: dg.RunRecord) -> str | None:
    """Why a run the instance shows as running is dead, or None if it may be alive."""
    folder = liveness_dir(instance)
    run_id = record.dagster_run.run_id
    started = record.start_time or record.create_timestamp.timestamp()
    age = dt.timedelta(seconds=time.time() - started)
    lock, done = folder / f"{run_id}.lock", folder / f"{run_id}.done"
    if lock.exists():
        if is_locked(lock) or not lock.exists():  # held, or renamed to .done meanwhile
            return None
        return (
            "its process died without ending the run (killed, out of memory or a reboot): "
            "it no longer holds its liveness lock"
        )
    if done.exists():
        since = dt.timedelta(seconds=time.time() - done.stat().st_mtime)
        if since > FINISH_GRACE:
            return f"it ended its steps {since} ago but never recorded its end"
        return None
    if age > START_GRACE:
        return f"it started {age} ago and never reached its first step"
    return None


def fail_dead_runs(instance: dg.DagsterInstance, noticed_by: str) -> list[str]:
    """Mark every dead clientele run failed, with the reason; returns their run ids."""
    records = instance.get_run_records(dg.RunsFilter(statuses=list(RUNNING), tags=WAREHOUSE_TAG))
    failed = []
    for record in records:
        reason = death_reason(instance, record)
        if reason is None:
            continue
        run = record.dagster_run
        if instance.get_run_by_id(run.run_id).status not in RUNNING:
            continue  # it ended while we looked
        instance.report_run_failed(
            run, f"Run {run.run_id} is dead: {reason}. Marked failed by {noticed_by}."
        )
        failed.append(run.run_id)
    forget_finished(instance)
    return failed


def forget_finished(instance: dg.DagsterInstance) -> None:
    """Remove the liveness files of runs that have ended (failed, succeeded or canceled)."""
    folder = liveness_dir(instance)
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        run = instance.get_run_by_id(path.stem)
        ended = run is None or run.is_finished
        if ended and (path.suffix == ".done" or not is_locked(path)):
            path.unlink(missing_ok=True)


class ClienteleRunLauncher(dg.DefaultRunLauncher):
    """Dagster's default launcher plus a health check for run monitoring (``dagster.yaml``).

    The default launcher cannot tell whether a run's worker still lives, so a run whose server
    died with it stayed STARTED forever and its one-writer tag limit kept every later run
    queued. This check answers from the run's liveness lock."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        record = self._instance.get_run_record_by_id(run.run_id)
        ours = all(run.tags.get(key) == value for key, value in WAREHOUSE_TAG.items())
        reason = death_reason(self._instance, record) if ours and record else None
        if reason is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, msg=f"The run is dead: {reason}.")
