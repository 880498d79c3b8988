"""End-to-end benchmark of the nightly job against the DuckDB floor and a pandas peer (issue #7).

    .venv/bin/python bench/run.py --lines 1000000                 # generate, run, floor
    .venv/bin/python bench/run.py --lines 10000000 --skip-generate --peer
    .venv/bin/python bench/run.py --lines 100000000 --skip-generate --repeat-floor 2

Not part of ``make test``. For each size:

1. generate ``lines / 25`` customers (seed 1, three years ending 2026-06-30) into
   ``bench/work/<size>/raw`` (git-ignored); timed, but not part of end to end;
2. on a fresh warehouse and Dagster instance in that home, run the nightly job in a child
   process through ``orchestration.operations.nights.run_night`` for D = the data's end date.
   Stage times come from the run's Dagster event log (step start -> success/failure of every
   step); the parent polls ``/proc`` for the resident memory of the whole process tree (dbt
   runs as a subprocess) and reports its peak;
3. the floor: one DuckDB ``read_csv`` aggregate of the raw order lines per customer (distinct
   orders, first and last date, sum of quantity x unit_price), in a fresh process, same run;
4. with ``--peer``: ``bench/peer_pandas.py`` on the same files (killed after ``--peer-timeout``).

``CLIENTELE_ENGINE=spark`` runs dbt on Spark (local mode; the run id ends in ``-spark``).

``--nightly`` measures an ordinary night instead of the first one: the history up to D - 1 is
loaded by an unmeasured run, then the run for D loads one new drop per source and rebuilds
every model, check and publication over the whole history.

One row per (run, stage) is appended to ``bench/results/results.csv``, with the machine, the git
commit and the load average at the start of the measurement.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results" / "results.csv"
END = dt.date(2026, 6, 30)
DBT_DIR = ROOT / "dbt_project"
SEED = 1
LINES_PER_CUSTOMER = 25
# What the pipeline run of each mode loads (the end_to_end row's note).
MODES = {
    "cold": "full load",
    "warm": "every drop already loaded",
    "nightly": "one new drop per source over a loaded history",
}
NO_FLOOR = "no floor: it reads every line, the night only one day's"
FIELDS = [
    "timestamp",
    "run_id",
    "git_commit",
    "target_lines",
    "order_lines",
    "customers",
    "stage",
    "seconds",
    "lines_per_second",
    "peak_rss_mb",
    "ratio",
    "note",
    "nproc",
    "ram_gb",
    "cpu",
    "load_1m",
    "load_5m",
    "duckdb_memory_limit",
    "cpu_seconds",
]


# ---------------------------------------------------------------------------------------------
# Machine and process tree


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    ram_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {"nproc": str(os.cpu_count()), "ram_gb": f"{ram_kb / 2**20:.1f}", "cpu": cpu}


def load() -> tuple[float, float]:
    one, five, _ = os.getloadavg()
    return round(one, 2), round(five, 2)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of ``root_pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text().split()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(statm[1]) * page
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_measured(command: list[str], timeout: float | None = None, env=None) -> dict:
    """Run a child process; its wall time, exit code, stdout and the tree's peak RSS."""
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    peak, timed_out = 0, False
    samples: list[tuple[float, int]] = []  # (unix time, tree RSS): peaks per stage
    out_chunks: list[str] = []
    import threading

    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    last_report = started
    while proc.poll() is None:
        rss = tree_rss_bytes(proc.pid)
        samples.append((time.time(), rss))
        peak = max(peak, rss)
        if time.perf_counter() - last_report > 30:  # progress, for runs that may be cut short
            last_report = time.perf_counter()
            print(
                f"  ... {last_report - started:.0f} s, peak RSS so far {peak / 2**20:.0f} MB, "
                f"load {load()}",
                file=sys.stderr,
                flush=True,
            )
        if timeout and time.perf_counter() - started > timeout:
            timed_out = True
            proc.kill()
            break
        time.sleep(0.2)
    proc.wait()
    reader.join(timeout=5)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": round(cpu, 1),
        "returncode": proc.returncode,
        "stdout": "".join(out_chunks),
        "peak_rss_mb": round(peak / 2**20),
        "timed_out": timed_out,
        "samples": samples,
    }


def peak_between(samples: list[tuple[float, int]], start: float, end: float) -> int | str:
    """The tree's peak RSS (MB) sampled while a stage ran; blank when no sample fell in it."""
    inside = [rss for at, rss in samples if start <= at <= end]
    return round(max(inside) / 2**20) if inside else ""


def last_json(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON result in child output:\n{stdout[-2000:]}")


# ---------------------------------------------------------------------------------------------
# Children: generate, pipeline, floor (each runs in its own process)


def child_generate(home: Path, lines: int) -> dict:
    from generator.generate import generate
    from orchestration.settings import Paths

    started = time.perf_counter()
    summary = generate(Paths(home), customers=lines // LINES_PER_CUSTOMER, seed=SEED, end=END)
    info = {
        "target_lines": lines,
        "customers": summary.customers,
        "order_lines": summary.rows["orders"],
        "lines_written": summary.lines_written,
        "generate_seconds": round(time.perf_counter() - started, 1),
        "end": END.isoformat(),
        "seed": SEED,
    }
    (home / "generate.json").write_text(json.dumps(info))
    return info


def stage_of(step_key: str) -> str:
    if step_key.startswith("raw__"):
        return "ingest:" + step_key.removeprefix("raw__")
    return step_key.removeprefix("model__")


def child_pipeline(home: Path, as_of: dt.date) -> dict:
    started = time.perf_counter()
    from orchestration import settings
    from orchestration.definitions import nightly_job
    from orchestration.operations.nights import run_night

    paths = settings.activate(str(home))
    imported = time.perf_counter()
    result = run_night(paths, as_of, job=nightly_job())
    finished = time.perf_counter()
    import dagster as dg

    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    order: list[str] = []
    with dg.DagsterInstance.get() as instance:
        for record in instance.all_logs(result.run_id):
            event = record.dagster_event
            if event is None or not event.step_key:
                continue
            if event.is_step_start:
                starts[event.step_key] = record.timestamp
                order.append(event.step_key)
            elif (event.is_step_success or event.is_step_failure) and event.step_key in starts:
                ends[event.step_key] = record.timestamp
    return {
        "success": result.success,
        "import_seconds": round(imported - started, 2),
        "run_seconds": round(finished - imported, 2),
        # (stage, seconds, unix start, unix end)
        "stages": [
            (stage_of(k), round(ends.get(k, float("nan")) - starts[k], 2), starts[k], ends.get(k))
            for k in order
        ],
        "failed": [e.step_key for e in result.all_events if e.is_step_failure],
    }


FLOOR_SQL = """
    select customer_id,
           count(distinct order_id) as orders,
           min(ordered_at) as first_at,
           max(ordered_at) as last_at,
           sum(quantity * unit_price) as revenue
    from read_csv(?, header = true, all_varchar = false)
    group by customer_id
"""


def child_floor(home: Path) -> dict:
    import duckdb

    pattern = str(home / "raw" / "orders" / "*.csv")
    con = duckdb.connect()
    started = time.perf_counter()
    rows = con.execute(f"select count(*), sum(orders) from ({FLOOR_SQL})", [pattern]).fetchall()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "customers": rows[0][0], "orders": int(rows[0][1])}


# ---------------------------------------------------------------------------------------------
# Parent


def size_name(lines: int) -> str:
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if lines % div == 0:
            return f"{lines // div}{unit}"
    return str(lines)


def append_rows(rows: list[dict]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new = not RESULTS.exists()
    with RESULTS.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in FIELDS})


def me(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def bench_size(args: argparse.Namespace, lines: int) -> None:
    home = WORK / size_name(lines)
    engine = os.environ.get("CLIENTELE_ENGINE", "duckdb")  # named in the run id when not DuckDB
    run_id = dt.datetime.now().strftime("%Y%m%dT%H%M%S") + f"-{size_name(lines)}"
    run_id += "" if engine == "duckdb" else f"-{engine}"
    base = {
        "run_id": run_id,
        "git_commit": git_commit(),
        "target_lines": lines,
        "duckdb_memory_limit": os.environ.get("CLIENTELE_DUCKDB_MEMORY_LIMIT", "8GB (default)"),
        **machine(),
    }
    rows: list[dict] = []

    def row(stage: str, seconds: float, loads, **extra) -> dict:
        r = {
            **base,
            "timestamp": dt.datetime.now().isoformat(timespec="seconds"),
            "stage": stage,
            "seconds": round(seconds, 2),
            "load_1m": loads[0],
            "load_5m": loads[1],
            **extra,
        }
        rows.append(r)
        return r

    info_file = home / "generate.json"
    if args.skip_generate and info_file.exists():
        info = json.loads(info_file.read_text())
        print(f"[{size_name(lines)}] reusing data generated in {info['generate_seconds']} s")
    else:
        loads = load()
        print(f"[{size_name(lines)}] generating (load {loads}) ...", flush=True)
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        done = run_measured(me("--child", "generate", str(home), str(lines)))
        info = last_json(done["stdout"])
        row(
            "generate",
            done["seconds"],
            loads,
            peak_rss_mb=done["peak_rss_mb"],
            cpu_seconds=done["cpu_seconds"],
        )
    base.update(order_lines=info["order_lines"], customers=info["customers"])
    n = info["order_lines"]
    print(f"[{size_name(lines)}] {n:,} order lines, {info['customers']:,} customers", flush=True)

    if not args.skip_pipeline:
        if not args.warm:  # a cold, full load of every drop
            for sub in ("warehouse", "dagster", "published", "exports", "lake", "spark"):
                shutil.rmtree(home / sub, ignore_errors=True)
        env = {**os.environ, "CLIENTELE_HOME": str(home)}
        env.pop("DAGSTER_HOME", None)
        if args.nightly:  # the history up to the day before, loaded cold and not measured
            before = END - dt.timedelta(days=1)
            print(
                f"[{size_name(lines)}] nightly: loading every drop up to {before} ...", flush=True
            )
            done = run_measured(me("--child", "pipeline", str(home), before.isoformat()), env=env)
            if done["returncode"] != 0 or not last_json(done["stdout"])["success"]:
                print(done["stdout"][-5000:])
                raise SystemExit("nightly: the run for the day before failed")
            row("nightly_history", done["seconds"], load(), note=f"cold run for D = {before}")
        if not args.cold_parse:
            # A deployed project keeps dbt's parse from one night to the next; this home's
            # path is part of the dbt profile, so without this the run would re-parse.
            parsed = run_measured(
                [
                    str(Path(sys.executable).parent / "dbt"),
                    "parse",
                    "--quiet",
                    "--project-dir",
                    str(DBT_DIR),
                    "--profiles-dir",
                    str(DBT_DIR),
                ],
                env={**env, "CLIENTELE_AS_OF": END.isoformat()},
            )
            if parsed["returncode"] != 0:
                raise SystemExit(f"dbt parse failed ({parsed['returncode']})")
            row("dbt_parse", parsed["seconds"], load(), note="before the run, not in end to end")
        loads = load()
        print(f"[{size_name(lines)}] pipeline (load {loads}) ...", flush=True)
        done = run_measured(me("--child", "pipeline", str(home), END.isoformat()), env=env)
        if done["returncode"] != 0:
            print(done["stdout"][-5000:])
            raise SystemExit(f"pipeline child failed ({done['returncode']})")
        result = last_json(done["stdout"])
        mode = "warm" if args.warm else "nightly" if args.nightly else "cold"
        for stage, seconds, start, end in result["stages"]:
            per_second = round(n / seconds) if seconds else ""
            peak = peak_between(done["samples"], start, end) if end else ""
            row(stage, seconds, loads, lines_per_second=per_second, peak_rss_mb=peak, note=mode)
        steps = sum(seconds for _, seconds, _, _ in result["stages"] if seconds == seconds)
        outside_run = done["seconds"] - result["run_seconds"]
        row(
            "outside_steps",
            done["seconds"] - steps,
            loads,
            note=f"{mode}: start-up, definitions; {outside_run:.1f} s outside run_night "
            "(interpreter start and exit, reading the event log)",
        )
        total = done["seconds"]
        e2e = row(
            "end_to_end",
            total,
            loads,
            lines_per_second=round(n / total),
            peak_rss_mb=done["peak_rss_mb"],
            cpu_seconds=done["cpu_seconds"],
            note=("ok" if result["success"] else "FAILED: " + ",".join(result["failed"]))
            + f"; {mode}: {MODES[mode]}",
        )
    else:
        e2e = None

    floor = None
    for _ in range(0 if args.nightly else args.repeat_floor):
        loads = load()
        done = run_measured(me("--child", "floor", str(home)))
        result = last_json(done["stdout"])
        if floor is None or result["seconds"] < floor["seconds"]:
            floor = {**result, "peak_rss_mb": done["peak_rss_mb"], "loads": loads}
            floor["cpu_seconds"] = done["cpu_seconds"]
    if floor:
        ratio = round(e2e["seconds"] / floor["seconds"], 2) if e2e else ""
        row(
            "floor_duckdb",
            floor["seconds"],
            floor["loads"],
            lines_per_second=round(n / floor["seconds"]),
            peak_rss_mb=floor["peak_rss_mb"],
            cpu_seconds=floor["cpu_seconds"],
            ratio=ratio,
            note=f"end_to_end / floor in ratio; best of {args.repeat_floor}",
        )

    if args.peer:
        loads = load()
        print(f"[{size_name(lines)}] pandas peer (load {loads}) ...", flush=True)
        done = run_measured(
            [sys.executable, str(ROOT / "bench" / "peer_pandas.py"), str(home), END.isoformat()],
            timeout=args.peer_timeout,
        )
        if done["timed_out"]:
            note = f"killed after {args.peer_timeout:.0f} s"
        elif done["returncode"] != 0:
            note = f"failed (exit {done['returncode']}, peak {done['peak_rss_mb']} MB)"
        else:
            note = "ok: " + json.dumps(last_json(done["stdout"]))
        ok = note.startswith("ok")
        row(
            "peer_pandas",
            done["seconds"],
            loads,
            lines_per_second=round(n / done["seconds"]) if ok else "",
            peak_rss_mb=done["peak_rss_mb"],
            cpu_seconds=done["cpu_seconds"],
            ratio=round(done["seconds"] / e2e["seconds"], 2) if ok and e2e else "",
            note=note + "; ratio = peer / end_to_end",
        )

    append_rows(rows)
    width = max(len(r["stage"]) for r in rows)
    for r in rows:
        keys = ("lines_per_second", "peak_rss_mb", "ratio")
        extra = " ".join(f"{k}={r[k]}" for k in keys if r.get(k, "") != "")
        print(f"  {r['stage']:<{width}} {r['seconds']:>9.2f} s  {extra}")
    print(f"[{size_name(lines)}] appended {len(rows)} rows to {RESULTS}", flush=True)


def main() -> int:
    global WORK, RESULTS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=float, nargs="+", default=[1e6], help="order lines")
    parser.add_argument("--skip-generate", action="store_true", help="reuse bench/work/<size>")
    parser.add_argument("--skip-pipeline", action="store_true", help="floor/peer only")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--warm",
        action="store_true",
        help="keep the warehouse: a nightly rerun with no new drops (ingest skips by fingerprint)",
    )
    mode.add_argument(
        "--nightly",
        action="store_true",
        help=f"the night of D: every drop up to D - 1 loaded first, not measured; {NO_FLOOR}",
    )
    parser.add_argument(
        "--cold-parse",
        action="store_true",
        help="no dbt parse before the run: it re-parses, as on the first night in a new home",
    )
    parser.add_argument("--peer", action="store_true", help="also run bench/peer_pandas.py")
    parser.add_argument("--peer-timeout", type=float, default=1200, help="seconds (default 1200)")
    parser.add_argument("--repeat-floor", type=int, default=1, help="best of N floor runs")
    parser.add_argument("--work", type=Path, default=WORK, help="data folder (bench/work)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="CSV to append to")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    WORK, RESULTS = args.work.resolve(), args.results.resolve()
    if args.child:
        sys.path.insert(0, str(ROOT))
        kind, home = args.child[0], Path(args.child[1])
        if kind == "generate":
            out = child_generate(home, int(args.child[2]))
        elif kind == "pipeline":
            out = child_pipeline(home, dt.date.fromisoformat(args.child[2]))
        else:
            out = child_floor(home)
        print(json.dumps(out), flush=True)
        return 0
    for lines in args.lines:
        bench_size(args, int(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
