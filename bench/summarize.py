"""Where the time went: runs of ``bench/run.py`` side by side, stages grouped (issue #7).

    .venv/bin/python bench/summarize.py                      # the last 3 pipeline runs
    .venv/bin/python bench/summarize.py 20261203T074722-10M 20261203T082921-10M

Reads ``bench/results/results.csv``; prints a Markdown table (seconds per group of stages,
end to end, peak RSS, floor and the ratios) ready for ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "results.csv"

# (group, test on the stage name), first match wins; every stage falls in one group.
GROUPS: list[tuple[str, Callable[[str], bool]]] = [
    ("ingest: orders", lambda s: s == "ingest:orders"),
    ("ingest: tickets (JSON lines)", lambda s: s == "ingest:tickets"),
    (
        "ingest: customers, surveys, tags, products",
        lambda s: s.startswith("ingest:") and s.count("_gx_") == 0 and "reconcile" not in s,
    ),
    ("checks on raw (GE + reconciliation)", lambda s: s.startswith("ingest:")),
    ("dbt_facts (staging, intermediate, customer_facts, tests)", lambda s: s == "dbt_facts"),
    ("CLV fit, backtest and their checks", lambda s: s.startswith(("customer_clv", "clv_"))),
    (
        "dbt_segments_and_marts (segments, scorecards, KPIs, tests)",
        lambda s: s == "dbt_segments_and_marts",
    ),
    ("GE checks on facts, segments and marts", lambda s: s.startswith("main__")),
    ("publish (file, Parquet + CSV exports, report)", lambda s: s == "published__clientele"),
    ("outside the steps (start-up, definitions, run)", lambda s: s == "outside_steps"),
]
SKIP = {"generate", "dbt_parse", "nightly_history", "end_to_end", "floor_duckdb", "peer_pandas"}


def load(path: Path) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = defaultdict(list)
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            runs[row["run_id"]].append(row)
    return runs


def group_of(stage: str) -> str:
    return next(name for name, test in GROUPS if test(stage))


def summarize(rows: list[dict]) -> dict[str, str]:
    seconds: dict[str, float] = defaultdict(float)
    out: dict[str, str] = {}
    for row in rows:
        stage = row["stage"]
        if stage not in SKIP:
            seconds[group_of(stage)] += float(row["seconds"] or 0)
        if stage == "end_to_end":
            out["end to end (s)"] = f"**{float(row['seconds']):.1f}**"
            out["peak RSS of the tree (MB)"] = f"{int(row['peak_rss_mb']):,}"
            out["CPU seconds of the tree"] = row["cpu_seconds"]
            out["order lines / s"] = f"{int(row['lines_per_second']):,}"
            out["result"] = row["note"].split(";")[0]
        if stage == "dbt_parse":
            out["dbt parse before the run, not in end to end (s)"] = row["seconds"]
        if stage == "floor_duckdb":
            out["DuckDB floor (s)"] = row["seconds"]
            out["end to end ÷ floor"] = f"**{row['ratio']}**" if row["ratio"] else ""
        if stage == "peer_pandas":
            out["pandas peer (s) / peak RSS (MB)"] = f"{row['seconds']} / {row['peak_rss_mb']}"
            out["peer ÷ end to end (> 1: we are faster)"] = row["ratio"]
    table = {name: f"{seconds[name]:.1f}" for name, _ in GROUPS if name in seconds}
    return {**table, **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_ids", nargs="*", help="run ids (default: the last 3 with a pipeline)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs = load(args.results)
    ids = (
        args.run_ids
        or [r for r in runs if any(row["stage"] == "end_to_end" for row in runs[r])][-3:]
    )
    columns = [summarize(runs[r]) for r in ids]
    labels = list(dict.fromkeys(label for column in columns for label in column))
    heads = [f"{r} ({runs[r][0]['git_commit']}, load {runs[r][0]['load_1m']})" for r in ids]
    print("| stage (wall s) | " + " | ".join(heads) + " |")
    print("|---|" + "---:|" * len(ids))
    for label in labels:
        print(f"| {label} | " + " | ".join(c.get(label, "") for c in columns) + " |")


if __name__ == "__main__":
    main()
