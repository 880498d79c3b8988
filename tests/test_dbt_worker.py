"""The run's dbt worker (orchestration/dbt_worker.py): its failures read like dbt's own, it
never outlives the run's process, and the dagster-dbt and dbt-duckdb internals it leans on are
still there. That its builds are the night's builds is what every test of the pipeline's
outputs checks: the session's night runs through it."""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from orchestration import settings
from orchestration.dbt_worker_main import RESULT_EVENTS
from tests.faults import harness

WORKER_MODULE = "orchestration.dbt_worker_main"


def workers_of(pid: int) -> list[int]:
    """Live dbt worker processes whose parent is ``pid``."""
    return [
        child
        for child, (parent, _) in harness.process_table().items()
        if parent == pid and harness.alive(child) and WORKER_MODULE in command_of(child)
    ]


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:  # it ended while we looked
        return ""


def test_a_failed_model_fails_the_step_naming_it_and_leaves_no_worker(tmp_path, monkeypatch):
    """dbt on a home with no raw tables: the staging models fail, the step fails naming them
    (what dbt's own exit would say), and the run's worker is gone with the run."""
    from orchestration.dbt import dbt_cli
    from orchestration.defs.resources import Night
    from orchestration.defs.transform import dbt_facts

    monkeypatch.setenv(settings.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv(settings.ENGINE_ENV, "duckdb")
    settings.activate(tmp_path / "home")
    result = dg.materialize(
        [dbt_facts],
        resources={"dbt": dbt_cli(), "night": Night(as_of="2026-06-30")},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.user_failure_data.description
    assert message.startswith("dbt build failed:")
    assert "model.clientele.stg_raw__orders: error" in message
    assert "raw" in message and "orders" in message  # dbt's reason: the missing table
    assert not result.get_asset_materialization_events()
    assert workers_of(os.getpid()) == []


def test_a_dead_worker_is_replaced_and_both_are_released(tmp_path, monkeypatch):
    """A worker that died (the OOM killer, a crash) is started again at the next build; the
    dead one is reaped and its pipes closed, and the run's end stops the new one cleanly, so a
    backfill of many nights in one process leaves neither processes nor open files behind."""
    from orchestration.dbt import dbt_cli

    monkeypatch.setenv(settings.HOME_ENV, str(tmp_path / "home"))
    dbt = dbt_cli()
    first = dbt.worker()
    os.kill(first.process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while first.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    second = dbt.worker()
    try:
        assert second is not first and second.alive
        assert first.process.stdin.closed and first.process.stdout.closed
        assert dbt.worker() is second  # a live worker is kept
    finally:
        second.stop()
    assert second.process.returncode == 0  # it ended on its closed stdin, not killed
    assert second.process.stdin.closed and second.process.stdout.closed
    assert workers_of(os.getpid()) == []


PARENT = """
import subprocess, time
from orchestration.dbt_worker import DbtWorker
worker = DbtWorker()
# Holds the worker's stdin open after this process dies, as a build in progress would keep the
# worker from reading its end: only the kernel's parent-death signal can end it then.
keeper = subprocess.Popen(["sleep", "600"], pass_fds=[worker.process.stdin.fileno()])
print(worker.process.pid, keeper.pid, flush=True)
time.sleep(600)
"""


def test_the_worker_dies_with_the_runs_process(tmp_path):
    """``kill -9`` of a run's process takes its dbt worker with it, even mid-build: no dbt is
    left holding the warehouse for the next run."""
    env = {**os.environ, settings.HOME_ENV: str(tmp_path / "home")}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, env=env)
    worker, keeper = (int(pid) for pid in parent.stdout.readline().split())
    try:
        time.sleep(8)  # the worker has imported dbt and asked to die with its parent
        assert harness.alive(worker)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while harness.alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not harness.alive(worker), f"dbt worker {worker} outlived its run's process"
    finally:
        parent.kill()
        for pid in (worker, keeper):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_private_dbt_pieces_the_worker_uses_still_exist():
    """dagster-dbt's selection of a step's subset and its conversion of one dbt event, and
    dbt-duckdb's one environment per process: an upgrade that moves them fails here."""
    from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
    from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    parameters = inspect.signature(get_updated_cli_invocation_params_for_context).parameters
    assert {"context", "manifest", "dagster_dbt_translator"} <= set(parameters)

    def event(name: str) -> DbtCoreCliEventMessage:
        raw = {"info": {"name": name}, "data": {"node_info": {"unique_id": "model.clientele.x"}}}
        return DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})

    # the worker sends exactly the events dagster-dbt turns into Dagster events
    assert all(event(name).is_result_event for name in RESULT_EVENTS)
    assert not event("NodeStart").is_result_event
    assert hasattr(event("LogModelResult"), "to_default_asset_events")
    assert hasattr(DuckDBConnectionManager, "_ENV") and hasattr(DuckDBConnectionManager, "_LOCK")
