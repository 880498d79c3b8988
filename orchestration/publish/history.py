"""The home's record of publications (``publications.json`` beside the published file): what
BI sees, known without opening the file a BI tool may hold. Written before each swap (so it
can only overstate the published date) and settled after."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import duckdb

from orchestration.publish.file import PublishError, fsync, partial_path, read_publication
from orchestration.publish.tables import HISTORY_TABLE, PUBLICATION_TABLE

LOG_NAME = "publications.json"


PUBLISHING, PUBLISHED, NOT_PUBLISHED, FAILED, ABANDONED = (
    "publishing",
    "published",
    "not_published",
    "failed",
    "abandoned",
)


def log_path(published: Path) -> Path:
    return published.with_name(LOG_NAME)


def read_log(published: Path) -> list[dict]:
    """Every publication attempt of this home, oldest first; seeded from the published file's
    own history when there is no record yet (a home published before the record existed)."""
    path = log_path(published)
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    if not published.exists():
        return []
    try:
        con = duckdb.connect(str(published), read_only=True)
    except duckdb.Error:
        return []  # held read-write by a BI tool, or unreadable: nothing to seed from
    try:
        has_history = con.execute(
            "select count(*) from duckdb_tables() where table_name = ?", [HISTORY_TABLE]
        ).fetchone()[0]
        source = HISTORY_TABLE if has_history else PUBLICATION_TABLE
        rows = con.execute(
            f"select distinct as_of_date, run_id, published_at from main.{source}"
        ).fetchall()
    finally:
        con.close()
    return [
        {
            "as_of_date": day.isoformat(),
            "run_id": run,
            "published_at": at.isoformat(),
            "status": PUBLISHED,
        }
        for day, run, at in sorted(rows, key=lambda r: r[2])
    ]


def write_log(published: Path, entries: list[dict]) -> None:
    """Replace the record atomically (a crash leaves the old record or the new one)."""
    path = log_path(published)
    partial = partial_path(path)
    partial.write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    fsync(partial)
    os.replace(partial, path)


def settle(published: Path, log: list[dict]) -> list[dict]:
    """Decide the publications a dead run left half-done: published if the file holds its run,
    else abandoned. Left undecided while the file cannot be read (they then count as published,
    which can only keep an older date out)."""
    if not any(e["status"] == PUBLISHING for e in log):
        return log
    try:
        holder = read_publication(published)["run_id"]
    except (duckdb.Error, PublishError):
        return log
    return [
        {**e, "status": PUBLISHED if e["run_id"] == holder else ABANDONED}
        if e["status"] == PUBLISHING
        else e
        for e in log
    ]


def published_as_of(log: list[dict]) -> dt.date | None:
    """The as-of date BI sees (or may see, while a dead run's swap is undecided)."""
    dates = [e["as_of_date"] for e in log if e["status"] in (PUBLISHED, PUBLISHING)]
    return dt.date.fromisoformat(max(dates)) if dates else None


def latest_per_date(log: list[dict]) -> list[dict]:
    """The latest publication of each as-of date, in the order they were published."""
    latest: dict[str, dict] = {}
    for entry in log:
        if entry["status"] == PUBLISHED:
            latest.pop(entry["as_of_date"], None)
            latest[entry["as_of_date"]] = entry
    return list(latest.values())
