"""Benchmark the synthetic data generator: wall time and peak memory per size.

    .venv/bin/python bench/bench_generate.py                      # ~1M order lines
    .venv/bin/python bench/bench_generate.py --lines 1e6 5e6      # does memory stay flat?
    .venv/bin/python bench/bench_generate.py --customers 40000 --dirt

Each size runs in its own process, so the peak RSS it reports is that generation's alone.
Data goes to ``bench/work/`` (git-ignored) unless ``--home`` says otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Order lines per customer over the default 3 years (measured on generated data).
LINES_PER_CUSTOMER = 25.4
END = dt.date(2026, 6, 30)


def run_one(customers: int, seed: int, days: int, dirt: bool, home: Path) -> dict:
    """Generate once in this process and report time, memory and what was written."""
    from generator.generate import generate
    from orchestration.settings import Paths

    shutil.rmtree(home, ignore_errors=True)  # time the generation, not deleting the last one
    started = time.perf_counter()
    summary = generate(Paths(home), customers=customers, seed=seed, days=days, end=END, dirt=dirt)
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in summary.raw_dir.rglob("*") if p.is_file())
    return {
        "customers": customers,
        "order_lines": summary.rows["orders"],
        "lines_written": summary.lines_written,
        "files": summary.files_written,
        "seconds": round(seconds, 2),
        "lines_per_second": round(summary.lines_written / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "raw_mb": round(size / 2**20, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--lines",
        type=float,
        nargs="+",
        default=[1e6],
        help="target order lines (customers are derived)",
    )
    parser.add_argument("--customers", type=int, nargs="+", help="customers (overrides --lines)")
    parser.add_argument("--days", type=int, default=1095)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dirt", action="store_true")
    parser.add_argument("--home", type=Path, default=ROOT / "bench" / "work" / "generate")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.seed, args.days, args.dirt, args.home)))
        return 0
    sizes = args.customers or [round(n / LINES_PER_CUSTOMER) for n in args.lines]
    for customers in sizes:
        command = [
            sys.executable,
            __file__,
            "--one",
            str(customers),
            "--seed",
            str(args.seed),
            "--days",
            str(args.days),
            "--home",
            str(args.home),
        ]
        if args.dirt:
            command.append("--dirt")
        result = json.loads(
            subprocess.run(command, check=True, capture_output=True, text=True).stdout
        )
        print(
            " ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in result.items()),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
