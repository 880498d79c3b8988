"""History from one export: an imported file is seen point-in-time by every as-of date inside
it, a backfill computes the dates in order and ends on the newest, and BI never goes back."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from orchestration.ingest.contract import SOURCES
from orchestration.operations.nights import backfill_dates
from tests.conftest import AS_OF
from tests.reference import COUNTS, MONEY, RATIOS, compute_facts, differs, read_source

CLI = str(Path(sys.executable).parent / "clientele")
FIRST = AS_OF - dt.timedelta(days=61)  # 2026-04-30
# Tickets answered after every date of the backfill: an imported file no run can use.
LATE_TICKETS = pd.DataFrame(
    {
        "ticket_id": ["late-1", "late-2"],
        "customer_id": ["c-late", "c-late"],
        "opened_at": [str(AS_OF + dt.timedelta(days=5)), str(AS_OF + dt.timedelta(days=9))],
    }
)


@pytest.fixture(scope="module")
def export(clean_raw, tmp_path_factory) -> tuple[Path, Path]:
    """The generated history as one export file per source, as a shop would hand it over, and
    the mapping that reads them (every contract column under its own name)."""
    folder = tmp_path_factory.mktemp("export")
    mapping = {"name": "whole_history", "sources": {}}
    for name, source in SOURCES.items():
        frame = read_source(clean_raw, name)
        frame.to_csv(folder / f"{name}.csv", index=False)
        mapping["sources"][name] = {
            "files": f"{name}*.csv",
            "columns": {c: c for c in source.column_names if c in frame.columns},
        }
    tickets = pd.read_csv(folder / "tickets.csv", nrows=0).columns
    LATE_TICKETS.reindex(columns=tickets).to_csv(folder / "tickets_late.csv", index=False)
    (folder / "notes.txt").write_text("not data\n")
    path = folder.parent / "whole_history.yaml"
    path.write_text(yaml.safe_dump(mapping))
    return folder, path


@pytest.fixture(scope="module")
def backfilled(export, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    folder, mapping = export
    home = tmp_path_factory.mktemp("backfill")
    result = subprocess.run(
        [CLI, "backfill", "--home", str(home), "--mapping", str(mapping), "--input", str(folder)]
        + ["--from", str(FIRST), "--to", str(AS_OF - dt.timedelta(days=1)), "--every", "month"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home, result


def test_backfill_dates_step_from_the_first_date_and_end_on_the_newest():
    assert backfill_dates(dt.date(2026, 1, 31), dt.date(2026, 4, 15), "month") == [
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 31),
        dt.date(2026, 4, 15),
    ]
    assert backfill_dates(
        dt.date(2026, 1, 1), dt.date(2026, 1, 15), "week", dt.date(2026, 2, 1)
    ) == [
        dt.date(2026, 1, 1),
        dt.date(2026, 1, 8),
        dt.date(2026, 1, 15),
        dt.date(2026, 2, 1),
    ]
    assert backfill_dates(dt.date(2026, 1, 1), dt.date(2026, 1, 3), "day") == [
        dt.date(2026, 1, d) for d in (1, 2, 3)
    ]
    with pytest.raises(ValueError, match="before it starts"):
        backfill_dates(dt.date(2026, 2, 1), dt.date(2026, 1, 1), "day")


def test_the_export_lands_as_history_files(backfilled):
    home, _ = backfilled
    files = sorted(p.relative_to(home / "raw") for p in (home / "raw").rglob("*.csv"))
    assert files and all(p.parts[1] == "history" for p in files), files


def test_every_date_of_the_backfill_was_computed_in_order_then_the_newest(backfilled):
    home, result = backfilled
    expected = [FIRST, dt.date(2026, 5, 30), AS_OF - dt.timedelta(days=1), AS_OF]
    done = [
        dt.date.fromisoformat(line.split()[1])
        for line in result.stdout.splitlines()
        if line.startswith("clientele: 20") and " done: " in line
    ]
    assert done == expected
    with duckdb.connect(str(home / "warehouse" / "clientele.duckdb"), read_only=True) as con:
        history = [
            r[0]
            for r in con.execute(
                "select distinct as_of_date from main.segment_history order by 1"
            ).fetchall()
        ]
    assert history == expected
    with duckdb.connect(str(home / "published" / "clientele.duckdb"), read_only=True) as con:
        published = con.execute("select distinct as_of_date from main.publication").fetchall()
        dates = [
            r[0]
            for r in con.execute(
                "select as_of_date from main.publication_history order by published_at"
            ).fetchall()
        ]
        moves = con.execute(
            "select count(*), count(*) filter (where from_label != to_label) "
            "from main.segment_migration where previous_as_of_date = ?",
            [expected[-2]],
        ).fetchone()
    assert published == [(AS_OF,)]
    assert dates == expected
    assert moves[0] > 0 and moves[1] > 0, "the migration has no moves after the backfill"
    report = (home / "exports" / str(AS_OF) / "report.html").read_text(encoding="utf-8")
    assert "no earlier as-of date in segment_history" not in report
    for day in expected:
        assert (home / "exports" / str(day) / "customer_facts.parquet").exists(), day


@pytest.mark.parametrize("day", [FIRST, dt.date(2026, 5, 30)])
def test_each_date_sees_exactly_the_events_up_to_it(backfilled, clean_raw, day):
    """An as-of date inside the export equals the reference computed from the events up to it
    (the same rule as daily drops), to the cent."""
    home, _ = backfilled
    ours = pd.read_parquet(home / "exports" / str(day) / "customer_facts.parquet")
    reference = compute_facts(clean_raw, day)
    assert sorted(ours["customer_id"]) == sorted(reference["customer_id"])
    compared = ours.merge(reference, on="customer_id", suffixes=("", "_expected"))
    wrong = {c: int(differs(compared, c).sum()) for c in MONEY + COUNTS + RATIOS}
    assert not any(wrong.values()), wrong


def test_an_imported_file_no_date_can_use_is_reported_loudly(backfilled):
    home, result = backfilled
    warnings = [line for line in result.stdout.splitlines() if "imported_rows_used" in line]
    assert warnings and all("tickets_late.csv" in line for line in warnings), result.stdout[-2000:]
    assert "notes.txt matches no source" in result.stdout


def test_an_older_date_after_a_newer_one_leaves_bi_on_the_newer(backfilled):
    home, _ = backfilled
    result = subprocess.run(
        [CLI, "run", "--home", str(home), "--as-of", str(FIRST)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"holds as-of date {AS_OF}, newer than {FIRST}" in result.stdout
    with duckdb.connect(str(home / "published" / "clientele.duckdb"), read_only=True) as con:
        assert con.execute("select distinct as_of_date from main.publication").fetchall() == [
            (AS_OF,)
        ]
    log = json.loads((home / "published" / "publications.json").read_text())
    assert log[-1]["as_of_date"] == str(FIRST) and log[-1]["status"] == "not_published"
