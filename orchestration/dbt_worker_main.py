"""The dbt worker process (``python -m orchestration.dbt_worker_main PARENT PROJECT TARGET``),
started by the run's dbt resource; orchestration/dbt_worker.py is the run's side and says why.

It imports dbt and nothing of Dagster (its start-up shares the machine with the run's ingest),
parses the project at once, then reads one build request per line on stdin (``{"argv": [...],
"env": {...}}``) and answers on stdout, one JSON object per line: ``{"event": ...}`` for each
dbt result (the dict of dbt's JSON log line), ``{"log": ...}`` for each line dbt would print,
and ``{"done": ...}`` at the end of the build. It exits when stdin closes, and the kernel kills
it when the run's process dies (``PR_SET_PDEATHSIG``), however that dies.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import uuid
from pathlib import Path
from typing import IO

from orchestration.warehouse import give_back_memory

PARTIAL_PARSE = "partial_parse.msgpack"
# The dbt events dagster-dbt turns into Dagster events (DbtCoreCliEventMessage.is_result_event).
RESULT_EVENTS = frozenset({"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"})
PRINTED_LEVELS = frozenset({"info", "warn", "error"})  # what dbt prints at its default level
# dbt's own printing is off: the run prints the lines the worker relays, in the step's logs.
QUIET = ["--log-level", "none"]


def main(parent: int, project: Path, target: Path) -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print cannot break the answers
    _die_with(parent)
    from dbt.cli.main import dbtRunner  # the start-up this process exists to pay early

    try:
        manifest, unparsed = _parse(project, target), None
    except Exception as exc:  # the first build reports it
        manifest, unparsed = None, exc
    for line in sys.stdin:
        request = json.loads(line)
        os.environ.clear()
        os.environ.update(request["env"])
        try:
            if manifest is None:
                raise RuntimeError(f"dbt could not parse {project}: {unparsed}")
            runner = dbtRunner(manifest=manifest, callbacks=[_answering(answers)])
            result = runner.invoke([*request["argv"], *QUIET])
            done = {
                "success": result.success,
                "failures": _failures(result),
                "error": None if result.exception is None else str(result.exception),
            }
        except Exception as exc:  # reported to the run, which fails the step with it
            done = {"success": False, "failures": [], "error": f"{type(exc).__name__}: {exc}"}
        finally:
            close_duckdb()
        answers.write(json.dumps({"done": done}) + "\n")
        give_back_memory(collect=True)  # the run's checks and publication run while this waits


def location_args(project: Path, target: Path) -> list[str]:
    """Where dbt finds the project and its profile, and writes its artifacts and log."""
    paths = ["--project-dir", os.fspath(project), "--profiles-dir", os.fspath(project)]
    return [*paths, "--target-path", os.fspath(target), "--log-path", os.fspath(target)]


def save_partial_parse(invocation_target: Path, target: Path) -> None:
    """Make an invocation's parse the one the next invocation starts from (atomically: homes
    of the same project may run at once)."""
    parsed = invocation_target / PARTIAL_PARSE
    if parsed.exists():
        saved = target / PARTIAL_PARSE
        partial = saved.with_name(f".{PARTIAL_PARSE}.{os.getpid()}.tmp")
        shutil.copyfile(parsed, partial)
        os.replace(partial, saved)


def close_duckdb() -> None:
    """Close the database dbt-duckdb keeps open for the life of the process (its profile
    setting ``keep_open``, true by default): between builds the run's own steps write the
    warehouse, and DuckDB lets one process at a time open it. ``keep_open: false`` would close
    it after every node instead: 186 opens of the file a night, dbt 40 % slower."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        environment, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if environment is not None:
        environment.close()


def _parse(project: Path, target: Path):
    """The project parsed once, from (and back into) the project's saved partial parse."""
    from dbt.cli.main import dbtRunner

    folder = target / f"parse-{uuid.uuid4().hex[:7]}"
    folder.mkdir(parents=True)
    if (target / PARTIAL_PARSE).exists():
        shutil.copyfile(target / PARTIAL_PARSE, folder / PARTIAL_PARSE)
    try:
        args = ["parse", "--quiet", "--no-write-json", *location_args(project, folder)]
        parsed = dbtRunner().invoke(args)
        if not parsed.success:
            raise RuntimeError(str(parsed.exception))
        save_partial_parse(folder, target)
        return parsed.result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _answering(answers: IO[str]):
    """A dbt callback sending the run each result event and each line dbt would print."""
    from dbt_common.events.functions import msg_to_dict

    lock = threading.Lock()  # dbt calls back from its main thread and its node threads

    def answer(message) -> None:
        lines = []
        if message.info.name in RESULT_EVENTS:
            lines.append(json.dumps({"event": msg_to_dict(message)}))
        if message.info.level in PRINTED_LEVELS and message.info.msg:
            lines.append(json.dumps({"log": message.info.msg}))
        if lines:
            with lock:
                answers.write("\n".join(lines) + "\n")

    return answer


def _failures(result) -> list[str]:
    results = getattr(result.result, "results", None) or []
    return [
        f"{r.node.unique_id}: {r.status} ({r.message})"
        for r in results
        if str(r.status) in {"error", "fail", "runtime error"}
    ]


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when the run's process dies."""
    if sys.platform == "linux":
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
