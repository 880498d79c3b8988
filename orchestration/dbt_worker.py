"""The run's dbt worker: a dbt process started with the run, so that dbt's start-up is paid
while ingest runs.

A ``dbt build`` subprocess spends seconds before its first model: importing dbt (about 4 s
here) and reading the project (1.5-3.5 s with partial parsing), and a night runs two. The run's
dbt resource starts the worker (orchestration/dbt_worker_main.py) when the run starts: it
imports dbt and parses the project at once, beside the ingest steps on the other core, and
hands that parse to every build of the run. Running dbt inside the run's own process was
measured too (bench/README.md, eighth pass): it saves the start-up, but then dbt and Dagster's
event writing take turns on one interpreter; a process of its own keeps them side by side.

The run's side turns the worker's dbt events into Dagster events with dagster-dbt's own
conversion and prints dbt's lines in the step's logs, so the UI, the asset checks and a failed
test read as with ``DbtCliResource.cli``. Private pieces of dagster-dbt, the halves of
``DbtCliResource.cli`` that are not about starting a process (guarded by
tests/test_dbt_worker.py): ``get_updated_cli_invocation_params_for_context`` (the dbt
selection of what Dagster selected) and ``DbtCoreCliEventMessage`` (one dbt event as Dagster
events).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt.asset_utils import get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from orchestration.dbt import AS_OF_ENV, dbt_project, project_target
from orchestration.dbt_worker_main import location_args

STOP_SECONDS = 30  # how long a worker asked to stop may take before it is killed


class DbtWorker:
    """The run's side of one worker process."""

    def __init__(self) -> None:
        project = os.fspath(dbt_project.project_dir)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.dbt_worker_main", str(os.getpid()), project]
            + [os.fspath(project_target())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            # Without the as-of date, which no parse needs (dbt renders it at each build): the
            # partial parse saved by one night is then valid for the next one.
            env={name: value for name, value in os.environ.items() if name != AS_OF_ENV},
        )

    def build(
        self, context: dg.AssetExecutionContext, args: Sequence[str], params: Any, target: Path
    ) -> Iterator[Any]:
        """Run ``dbt <args>`` on the selection ``params`` and yield its Dagster events; raise
        ``dg.Failure`` naming the nodes that failed, after the events of the others."""
        argv = [
            *args,
            *params.selection_args,
            *location_args(Path(dbt_project.project_dir), target),
        ]
        request = {"argv": argv, "env": dict(os.environ)}
        done = None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            for line in self.process.stdout:
                answer = json.loads(line)
                if "log" in answer:
                    sys.stdout.write(answer["log"] + "\n")
                    continue
                if "done" in answer:
                    done = answer["done"]
                    break
                event = DbtCoreCliEventMessage(raw_event=answer["event"], event_history_metadata={})
                yield from event.to_default_asset_events(
                    manifest=params.manifest,
                    dagster_dbt_translator=params.dagster_dbt_translator,
                    context=context,
                    target_path=target,
                    project=params.dbt_project,
                )
        except BaseException:
            self.kill()  # stopped mid-build: its remaining lines would answer the next request
            raise
        finally:
            sys.stdout.flush()
        if done is None:
            code = self.process.wait()
            raise dg.Failure(f"the dbt worker (pid {self.process.pid}) exited with code {code}")
        if not done["success"]:
            detail = "\n".join(done["failures"]) or done["error"]
            raise dg.Failure(
                description=f"dbt {argv[0]} failed:\n{detail}",
                metadata={"dbt arguments": " ".join(argv)},
            )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """End the worker (it exits when its stdin closes), reap it and close its pipes."""
        if self.alive:
            with contextlib.suppress(OSError):  # it may die meanwhile
                self.process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_SECONDS)
        self.kill()

    def kill(self) -> None:
        """Kill the worker if it still runs, reap it and close its pipes."""
        if self.alive:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):  # unsent bytes to a dead worker
                pipe.close()


def selection(context: dg.AssetExecutionContext):
    """dagster-dbt's dbt selection of the assets and checks this step runs."""
    return get_updated_cli_invocation_params_for_context(
        context=context, manifest={}, dagster_dbt_translator=None
    )


def can_build(selection_args: Sequence[str]) -> bool:
    """Whether the worker's parse serves the selection: dagster-dbt selects a very large subset
    through a selector file in a copy of the project, which only a parse of that copy knows
    (such a step runs dbt as a subprocess)."""
    return "--selector" not in selection_args


def invocation_folder(context: dg.AssetExecutionContext) -> Path:
    """A target folder of this invocation's own, named as dagster-dbt names its folders."""
    name = f"{context.op_def.name}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    return project_target() / name
