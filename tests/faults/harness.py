"""What the fault trials share: clientele in a subprocess, killing process trees, the Dagster
instance of a home, and the published file read and compared.

Every command runs in its own session with its output in a log file, as in production, so a
trial can kill it the way a crash or the OOM killer would: SIGKILL to every process of its tree,
without a chance to clean up.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd

from orchestration import publish, settings
from orchestration.operations.nights import AS_OF_TAG
from tests.conftest import published_tables

CLI = str(Path(sys.executable).parent / "clientele")
# Columns that differ between two runs of the same night by design.
RUN_COLUMNS = {"run_id", "published_at", "loaded_at"}
# Float cells may differ in the last bits (DuckDB sums in parallel, in any order).
FLOAT_RTOL = 1e-9
STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}


# ---------------------------------------------------------------------------------------------
# clientele in a subprocess


def env_for(home: Path) -> dict[str, str]:
    """The environment of a command on ``home``: its own Dagster instance, nothing inherited
    from this process (an in-process run here sets DAGSTER_HOME and the as-of variable)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "CLIENTELE_AS_OF")}
    env[settings.HOME_ENV] = str(home)
    env["DAGSTER_HOME"] = str(home / "dagster")
    return env


def start(home: Path, *args: str, log: Path) -> subprocess.Popen:
    """``clientele <args> --home <home>`` in its own session (its process group is the tree)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [CLI, *args, "--home", str(home)],
            env=env_for(home),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


@dataclass
class Finished:
    """How a command ended: exit code (None: it hung and was killed), wall time, output."""

    returncode: int | None
    seconds: float
    log: Path

    @property
    def hung(self) -> bool:
        return self.returncode is None

    def output(self, last: int = 4000) -> str:
        return tail(self.log, last)


def tail(log: Path, last: int = 3000) -> str:
    """The end of a command's log, for an assertion's message (a killed writer may have left
    a broken character)."""
    return log.read_text(errors="replace")[-last:]


def finish(process: subprocess.Popen, log: Path, started: float, timeout: float) -> Finished:
    """Wait for ``process`` at most until ``started + timeout``; kill its tree if it hangs."""
    try:
        code = process.wait(timeout=max(0.0, started + timeout - time.monotonic()))
    except subprocess.TimeoutExpired:
        kill_tree(process)
        code = None
    return Finished(code, time.monotonic() - started, log)


def run(home: Path, *args: str, log: Path, timeout: float) -> Finished:
    """Run a command to its end, or kill it as hung after ``timeout`` seconds."""
    started = time.monotonic()
    return finish(start(home, *args, log=log), log, started, timeout)


def copy_home(base: Path, target: Path) -> Path:
    """A trial's own home: a copy of the base (raw drops, warehouse, instance, publication)."""
    shutil.copytree(base, target, symlinks=True)
    return target


# ---------------------------------------------------------------------------------------------
# killing a process tree


def process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, process group) of every process, from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def tree_of(root: int, table: dict[int, tuple[int, int]]) -> set[int]:
    """``root``, its descendants (whatever their process group) and its process group."""
    found = {pid for pid, (_, group) in table.items() if group == root}
    todo = [root] if root in table else []
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(child for child, (parent, _) in table.items() if parent == pid)
    return found - {os.getpid()}


def _signal(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError):  # it ended already
        os.kill(pid, sig)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_tree(process: subprocess.Popen | int, timeout: float = 30) -> list[int]:
    """SIGKILL a session leader's whole tree: its process group and every descendant.

    The tree is frozen first (SIGSTOP, repeated until no new process appears), so no process
    forks a child outside the list or finishes a write after its parent died. Returns the pids
    killed, once all of them are gone."""
    root = process if isinstance(process, int) else process.pid
    frozen: set[int] = set()
    while new := tree_of(root, process_table()) - frozen:
        for pid in new:
            _signal(pid, signal.SIGSTOP)
        frozen |= new
    with suppress(ProcessLookupError):
        os.killpg(root, signal.SIGKILL)
    for pid in frozen:
        _signal(pid, signal.SIGKILL)
    if not isinstance(process, int):
        process.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in frozen):
        assert time.monotonic() < deadline, f"processes survived SIGKILL: {sorted(frozen)}"
        time.sleep(0.05)
    return sorted(frozen)


# ---------------------------------------------------------------------------------------------
# the Dagster instance of a home


@contextmanager
def instance_of(home: Path) -> Iterator[dg.DagsterInstance]:
    """The home's Dagster instance (``$CLIENTELE_HOME/dagster``), read from this process."""
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        yield instance


def runs_for(instance: dg.DagsterInstance, as_of: dt.date) -> list[dg.DagsterRun]:
    """The runs of the nightly job for ``as_of``, newest first."""
    return list(instance.get_runs(filters=dg.RunsFilter(tags={AS_OF_TAG: as_of.isoformat()})))


@dataclass
class Step:
    key: str
    start: float
    end: float | None = None

    @property
    def duration(self) -> float:
        assert self.end is not None, f"step {self.key} did not end"
        return self.end - self.start


def steps_of(instance: dg.DagsterInstance, run_id: str) -> dict[str, Step]:
    """The run's steps in the order they started, with their start and end times."""
    steps: dict[str, Step] = {}
    for event in instance.all_logs(run_id, of_type=STEP_EVENTS):
        if event.dagster_event_type == dg.DagsterEventType.STEP_START:
            steps[event.step_key] = Step(event.step_key, event.timestamp)
        elif event.step_key in steps:
            steps[event.step_key].end = event.timestamp
    return steps


def failure_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.message for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)]


# ---------------------------------------------------------------------------------------------
# the published file


@dataclass
class Published:
    """What BI sees in a published file: its as-of date and whether it is complete."""

    as_of: dt.date
    tables: dict[str, pd.DataFrame] = field(repr=False)

    @property
    def problems(self) -> list[str]:
        """Tables missing, unlisted, or whose rows differ from the publication table's count."""
        counts = dict(
            zip(
                self.tables[publish.PUBLICATION_TABLE]["table_name"],
                self.tables[publish.PUBLICATION_TABLE]["row_count"],
                strict=True,
            )
        )
        listed = set(counts) | {publish.PUBLICATION_TABLE, publish.HISTORY_TABLE}
        found = [f"{name}: not listed in publication" for name in set(self.tables) - listed]
        for name, expected in counts.items():
            rows = len(self.tables[name]) if name in self.tables else None
            if rows != expected:
                found.append(f"{name}: {rows} rows, publication says {expected}")
        return found


def published(home: Path) -> Published:
    tables = published_tables(settings.Paths(home).published)
    dates = set(tables[publish.PUBLICATION_TABLE]["as_of_date"])
    assert len(dates) == 1, f"the publication table holds as-of dates {sorted(dates)}"
    return Published(pd.Timestamp(dates.pop()).date(), tables)


def comparable(name: str, table: pd.DataFrame) -> pd.DataFrame:
    """A table without its run ids and times, rows in a stable order; the history without its
    runs (a rerun republishes D under its own run id)."""
    if name == publish.HISTORY_TABLE:
        return table[["as_of_date"]].sort_values("as_of_date").reset_index(drop=True)
    table = table.drop(columns=[c for c in table.columns if c in RUN_COLUMNS])
    return table.sort_values(list(table.columns)).reset_index(drop=True)


def differences(actual: Published, expected: Published) -> list[str]:
    """Every way ``actual`` differs from ``expected``, run ids and timestamps aside."""
    found = []
    if actual.as_of != expected.as_of:
        found.append(f"as-of date {actual.as_of}, expected {expected.as_of}")
    if set(actual.tables) != set(expected.tables):
        found.append(f"tables {sorted(actual.tables)}, expected {sorted(expected.tables)}")
    for name in sorted(set(actual.tables) & set(expected.tables)):
        try:
            pd.testing.assert_frame_equal(
                comparable(name, actual.tables[name]),
                comparable(name, expected.tables[name]),
                check_exact=False,
                rtol=FLOAT_RTOL,
                atol=0,
            )
        except AssertionError as error:
            found.append(f"{name}: {str(error).strip()[:600]}")
    return found


def temp_files(home: Path) -> list[Path]:
    """Temporary publication files (and their WAL) left in ``published/``."""
    path = settings.Paths(home).published
    return sorted(path.parent.glob(f".{path.name}.*.tmp*"))
