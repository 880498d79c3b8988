"""Publishing for BI (SPEC §9): a separate DuckDB file, swapped in atomically, and exports.

BI tools must never open the working warehouse (one writer process per DuckDB file, and dbt
rewrites it every night). They read ``$CLIENTELE_HOME/published/clientele.duckdb`` instead,
which :func:`publish` rebuilds from scratch every run:

1. a NEW file is written next to the published one under a temporary name (``file``: in the
   DuckDB storage format of ``STORAGE_VERSION``, readable by the older DuckDB BI tools embed);
   the working warehouse is ATTACHed read-only and each published table is copied into the
   new file's main schema without the contact-detail columns (``contract.PII_COLUMNS``);
2. the new file is verified (no PII column anywhere, every dated table is for the as-of date),
   a small ``publication`` table records the as-of date, time, run id and row counts, and the
   file is checkpointed, closed and flushed to disk;
3. the Parquet and CSV exports (``exports``) and the HTML report (``report``) for the as-of date
   are written from it;
4. ``os.replace`` swaps it in: a rename within one folder, atomic on POSIX.

Publication only moves forward: a run for an as-of date older than the one published (a
backfill) writes its exports and report but leaves the published file alone, unless asked
(``allow_older``). The home's record of publications (``publications.json`` beside the file,
written before each swap and settled after) says what BI sees without opening the file, which a
BI tool may hold; each published file carries it as ``publication_history``.

A reader that opened the previous file keeps reading that file (its inode lives on until the
reader closes it) and the next reader opens the new one; nobody ever sees a half-written
state, and a BI tool holding the file open, even read-write, never blocks the swap. Any failure
before the swap removes the temporary file and leaves the previous publication as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.publish.exports import export_tables
from orchestration.publish.file import build_file, fsync, partial_path
from orchestration.publish.history import (
    FAILED,
    NOT_PUBLISHED,
    PUBLISHED,
    PUBLISHING,
    latest_per_date,
    published_as_of,
    read_log,
    settle,
    write_log,
)
from orchestration.publish.report import REPORT_NAME, write_report
from orchestration.publish.tables import PUBLISHED_TABLES, PublishedTable


@dataclass
class Publication:
    """What one :func:`publish` call made."""

    path: Path
    as_of: dt.date
    published_at: dt.datetime
    run_id: str
    row_counts: dict[str, int]
    removed_columns: dict[str, list[str]] = field(default_factory=dict)
    export_dir: Path | None = None
    report: Path | None = None
    # False when the published file holds a newer as-of date and was left alone.
    published: bool = True
    previous_as_of: dt.date | None = None  # what BI saw before this run


def publish(
    warehouse: Path,
    published: Path,
    as_of: dt.date,
    run_id: str,
    *,
    export_dir: Path | None = None,
    report: bool = True,
    tables: Iterable[PublishedTable] = PUBLISHED_TABLES,
    allow_older: bool = False,
) -> Publication:
    """Publish the warehouse's tables for ``as_of`` to ``published``, atomically.

    ``export_dir`` (usually ``$CLIENTELE_HOME/exports/<D>``) receives the Parquet and CSV
    exports and, with ``report``, the HTML report. When ``published`` holds a newer as-of date,
    only those are written, unless ``allow_older``. Raises :class:`PublishError` (or whatever
    went wrong) with the previous publication untouched.
    """
    tables = list(tables)
    published.parent.mkdir(parents=True, exist_ok=True)
    published_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    log = settle(published, read_log(published))
    previous = published_as_of(log)
    moves = previous is None or as_of >= previous or allow_older
    entry = {
        "as_of_date": as_of.isoformat(),
        "run_id": run_id,
        "published_at": published_at.isoformat(),
        "status": PUBLISHING if moves else NOT_PUBLISHED,
    }
    history = latest_per_date([*log, {**entry, "status": PUBLISHED}] if moves else log)
    partial = partial_path(published)
    try:
        row_counts, removed = build_file(
            partial, warehouse, as_of, run_id, published_at, tables, history
        )
        report_path = None
        if export_dir is not None:
            export_tables(partial, list(row_counts), export_dir)
            if report:
                report_path = write_report(partial, export_dir / REPORT_NAME)
        if moves:
            write_log(published, [*log, entry])  # before the swap: it can only overstate
            os.replace(partial, published)
            fsync(published.parent)
            entry["status"] = PUBLISHED
    except BaseException:
        if entry["status"] == PUBLISHING:
            entry["status"] = FAILED
        raise
    finally:
        partial.unlink(missing_ok=True)
        partial.with_name(partial.name + ".wal").unlink(missing_ok=True)
        # On a full disk an entry left "publishing" is settled by the next publication.
        with contextlib.suppress(OSError):
            write_log(published, [*log, entry])
    return Publication(
        path=published,
        as_of=as_of,
        published_at=published_at,
        run_id=run_id,
        row_counts=row_counts,
        removed_columns=removed,
        export_dir=export_dir,
        report=report_path,
        published=moves,
        previous_as_of=previous,
    )
