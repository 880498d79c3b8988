"""Locks that die with their holder, and dead runs told from live ones (issue: a killed run
used to keep its Dagster pool slot and every later run waited forever)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration import settings
from orchestration.operations import nights, runs
from orchestration.operations.locks import Holder, LockHeld, OsLock, is_locked, read_holder

# A process that takes a lock (or a run's liveness) and waits to be killed.
HOLDER = r"""
import sys, time
from pathlib import Path
from orchestration.operations.locks import Holder, OsLock
OsLock(Path(sys.argv[1])).acquire(Holder.now(sys.argv[2], "test holder"), wait=False)
Path(sys.argv[1] + ".ready").touch()
time.sleep(600)
"""


def hold_elsewhere(path: Path, run_id: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), run_id])
    deadline = time.monotonic() + 30
    while not Path(f"{path}.ready").exists():
        assert process.poll() is None and time.monotonic() < deadline, "holder did not start"
        time.sleep(0.02)
    return process


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_a_held_lock_names_its_holder_and_is_freed_when_the_holder_is_killed(tmp_path):
    path = tmp_path / "writer.lock"
    other = hold_elsewhere(path, "run-elsewhere")
    lock = OsLock(path)
    with pytest.raises(LockHeld, match="run run-elsewhere \\(test holder\\), process"):
        lock.acquire(Holder.now("mine"), wait=False)
    assert is_locked(path)
    kill(other)  # no clean exit: the kernel releases the lock
    assert not is_locked(path)
    mine = Holder.now("mine")
    lock.acquire(mine, wait=False)
    assert read_holder(path).run_id == "mine"
    lock.release(mine)
    assert not is_locked(path)


def test_waiting_for_a_lock_sleeps_until_the_holder_dies(tmp_path):
    path = tmp_path / "writer.lock"
    other = hold_elsewhere(path, "run-elsewhere")
    holder, waited = Holder.now("waiter"), []
    thread = threading.Thread(target=lambda: waited.append(OsLock(path).acquire(holder, wait=True)))
    cpu = time.process_time()
    thread.start()
    time.sleep(1.0)
    assert thread.is_alive(), "the waiter did not wait"
    assert time.process_time() - cpu < 0.3, "the waiter spins instead of sleeping"
    kill(other)
    thread.join(timeout=10)
    assert waited == [True]
    OsLock(path).release(holder)


def test_a_lock_is_reentrant_within_one_process(tmp_path):
    """A backfill holds the warehouse; each of its nights takes it again in the same process."""
    lock, outer, inner = OsLock(tmp_path / "writer.lock"), Holder.now("outer"), Holder.now("inner")
    lock.acquire(outer, wait=False)
    lock.acquire(inner, wait=False)
    assert read_holder(lock.path).run_id == "inner"
    lock.release(inner)
    assert is_locked(lock.path) and read_holder(lock.path).run_id == "outer"
    lock.release(outer)
    assert not is_locked(lock.path)


# ----------------------------------------------------------------- dead runs and the launcher


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """A Dagster instance configured as clientele configures one (DAGSTER_HOME restored after)."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    nights.prepare_dagster_home(settings.Paths(tmp_path / "home"))
    with dg.DagsterInstance.get() as instance:
        yield instance


@dg.op
def nothing():
    pass


@dg.job(tags=runs.WAREHOUSE_TAG)
def writer_job():
    nothing()


def started_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    """A run the instance shows as STARTED, as a crashed run leaves it."""
    from dagster._core.events import DagsterEvent, DagsterEventType

    run = instance.create_run_for_job(writer_job, tags=runs.WAREHOUSE_TAG)
    instance.report_dagster_event(
        DagsterEvent(DagsterEventType.PIPELINE_START.value, job_name=run.job_name), run.run_id
    )
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    return run


def test_the_instance_is_configured_for_crash_recovery(instance):
    config = yaml.safe_load((Path(instance.root_directory) / "dagster.yaml").read_text())
    assert config["run_launcher"]["class"] == runs.ClienteleRunLauncher.__name__
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_monitoring"]["max_resume_run_attempts"] == 0
    assert "pools" not in config.get("concurrency", {}), "pool slots survive a kill -9"
    assert isinstance(instance.run_launcher, runs.ClienteleRunLauncher)
    assert instance.run_launcher.supports_check_run_worker_health


def test_a_killed_run_is_dead_and_marked_failed_with_the_reason(instance):
    from dagster._core.launcher import WorkerStatus

    dead, alive = started_run(instance), started_run(instance)
    folder = runs.liveness_dir(instance)
    killed = hold_elsewhere(folder / f"{dead.run_id}.lock", dead.run_id)
    living = hold_elsewhere(folder / f"{alive.run_id}.lock", alive.run_id)
    try:
        kill(killed)
        launcher = instance.run_launcher
        assert launcher.check_run_worker_health(dead).status == WorkerStatus.FAILED
        assert launcher.check_run_worker_health(alive).status == WorkerStatus.RUNNING
        assert runs.fail_dead_runs(instance, noticed_by="the test") == [dead.run_id]
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        failure = [
            e.message
            for e in instance.all_logs(dead.run_id)
            if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_FAILURE"
        ]
        assert failure and "no longer holds its liveness lock" in failure[0]
    finally:
        kill(living)


def test_a_run_that_never_reached_its_first_step_is_dead_after_the_grace(instance, monkeypatch):
    run = started_run(instance)
    record = instance.get_run_record_by_id(run.run_id)
    assert runs.death_reason(instance, record) is None  # just started: give it time
    later = time.time() + runs.START_GRACE.total_seconds() + 1
    monkeypatch.setattr(runs.time, "time", lambda: later)
    assert "never reached its first step" in runs.death_reason(instance, record)


def test_a_run_that_ended_its_steps_is_not_dead_while_it_records_its_end(instance):
    run = started_run(instance)
    with runs.liveness(instance, run.run_id, "test"):
        assert runs.death_reason(instance, instance.get_run_record_by_id(run.run_id)) is None
    assert (runs.liveness_dir(instance) / f"{run.run_id}.done").exists()
    assert runs.death_reason(instance, instance.get_run_record_by_id(run.run_id)) is None


def test_runs_of_other_jobs_are_left_to_dagster(instance):
    from dagster._core.launcher import WorkerStatus

    run = instance.create_run_for_job(writer_job, tags={"team": "other"})
    assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING


def test_a_corrupt_warehouse_fails_naming_the_file_and_the_rebuild(tmp_path):
    from orchestration.defs.resources import WarehouseCorrupt, check_opens

    paths = settings.Paths(tmp_path)
    paths.warehouse.parent.mkdir(parents=True)
    paths.warehouse.write_bytes(os.urandom(300_000))
    with pytest.raises(WarehouseCorrupt) as error:
        check_opens(paths)
    assert str(paths.warehouse) in str(error.value)
    assert "clientele run --rebuild-warehouse" in str(error.value)
