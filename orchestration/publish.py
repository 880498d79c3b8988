"""Publishing for BI (SPEC §9): a separate DuckDB file, swapped in atomically, and exports.

BI tools must never open the working warehouse (one writer process per DuckDB file, and dbt
rewrites it every night). They read ``$CLIENTELE_HOME/published/clientele.duckdb`` instead,
which :func:`publish` rebuilds from scratch every run:

1. a NEW file is written next to the published one under a temporary name (in the DuckDB
   storage format of ``STORAGE_VERSION``, readable by the older DuckDB that BI tools embed);
   the working warehouse is ATTACHed read-only and each published table is copied into the
   new file's main schema without the contact-detail columns (``contract.PII_COLUMNS``);
2. the new file is verified (no PII column anywhere, every dated table is for the as-of date),
   a small ``publication`` table records the as-of date, time, run id and row counts, and the
   file is checkpointed, closed and flushed to disk;
3. the Parquet and CSV exports and the HTML report for the as-of date are written from it;
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
import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.contract import PII_COLUMNS
from orchestration.ingest import q as quote
from orchestration.offers import DDL as OFFER_DDL
from orchestration.settings import DUCKDB_MEMORY_LIMIT
from orchestration.warehouse import quote_identifier

# How a published table relates to the as-of date D, by its as_of_date column.
AS_OF = "as_of"  # computed for D: every row must be dated D, or nothing is published
UP_TO = "up_to"  # cumulative (offers): rows dated after D are left out
UNDATED = "undated"  # reference data (label names)


@dataclass(frozen=True)
class PublishedTable:
    """A warehouse table that BI reads, published as ``main.<name>``."""

    name: str
    schema: str = "main"
    dating: str = AS_OF
    # Published even before it exists, empty with this DDL (offers are made on demand).
    empty_ddl: str | None = None


# What the published file holds (SPEC §7 and §10), in the order BI tools list them.
PUBLISHED_TABLES: tuple[PublishedTable, ...] = (
    # KPIs and scorecards (SPEC §7)
    PublishedTable("kpi_monthly"),
    PublishedTable("cohort_retention"),
    PublishedTable("loyalty_scorecard"),
    PublishedTable("profitability_scorecard"),
    PublishedTable("whale_curve"),
    PublishedTable("segment_migration"),
    PublishedTable("customer_scorecard"),
    # customer-level tables (SPEC §10)
    PublishedTable("customer_facts"),
    PublishedTable("customer_segments"),
    PublishedTable("customer_actions"),
    PublishedTable("customer_clv", schema="model"),
    PublishedTable("offer_allocation", dating=UP_TO, empty_ddl=OFFER_DDL["offer_allocation"]),
    # what the report and BI need beside them: the model's backtest, the data-quality summary
    # and the label names (so BI shows "Most valuable", not most_valuable)
    PublishedTable("clv_backtest", schema="model"),
    PublishedTable("clv_backtest_summary", schema="model"),
    PublishedTable("data_quality"),
    PublishedTable("segment_labels", dating=UNDATED),
)

PUBLICATION_TABLE = "publication"
HISTORY_TABLE = "publication_history"
LOG_NAME = "publications.json"
# The DuckDB storage format of the published file: BI tools embed their own DuckDB, often
# older than the pipeline's, and a file in the newest format would be unreadable to them.
STORAGE_VERSION = os.environ.get("CLIENTELE_PUBLISHED_STORAGE_VERSION", "v1.0.0")
EXPORT_FORMATS = ("parquet", "csv")
REPORT_NAME = "report.html"


class PublishError(RuntimeError):
    """The publication cannot be made; the previous one is left as it was."""


class PiiLeakError(PublishError):
    """A contact-detail column would have reached the published file."""


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


def literal(value: Path | str) -> str:
    """A path or setting as a SQL string literal (ATTACH and COPY take no bound parameters)."""
    return "'" + str(value).replace("'", "''") + "'"


def is_pii(column: str) -> bool:
    return column.strip().lower() in PII_COLUMNS


def strip_pii(columns: Iterable[str]) -> tuple[list[str], list[str]]:
    """The columns to publish and the contact-detail columns left out."""
    columns = list(columns)
    return [c for c in columns if not is_pii(c)], [c for c in columns if is_pii(c)]


def assert_no_pii(con: duckdb.DuckDBPyConnection, database: str) -> None:
    """Raise :class:`PiiLeakError` naming every PII column of any table in ``database``."""
    rows = con.execute(
        "select table_name, column_name from duckdb_columns() where database_name = ?",
        [database],
    ).fetchall()
    leaks = [f"{table}.{column}" for table, column in rows if is_pii(column)]
    if leaks:
        raise PiiLeakError(
            f"refusing to publish contact details: {', '.join(sorted(leaks))} "
            f"(PII columns: {', '.join(sorted(PII_COLUMNS))})"
        )


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    return con.execute(
        """select column_name, data_type from duckdb_columns()
           where database_name = 'warehouse' and schema_name = ? and table_name = ?
           order by column_index""",
        [schema, table],
    ).fetchall()


def copy_table(con: duckdb.DuckDBPyConnection, spec: PublishedTable, as_of: dt.date) -> list[str]:
    """Copy one warehouse table into ``main`` of the new file; returns the columns left out."""
    columns = _columns(con, spec.schema, spec.name)
    target = f"main.{quote(spec.name)}"
    if not columns:
        if spec.empty_ddl is None:
            raise PublishError(
                f"{spec.schema}.{spec.name} is missing from the warehouse: "
                "has the pipeline run for this as-of date?"
            )
        con.execute(f"create table {target} ({spec.empty_ddl})")
        return []
    kept, removed = strip_pii(name for name, _ in columns)
    select = ", ".join(quote_identifier(name) for name in kept)
    source = f"warehouse.{quote(spec.schema)}.{quote(spec.name)}"
    if spec.dating == UP_TO:
        con.execute(
            f"create table {target} as select {select} from {source} "
            "where cast(as_of_date as date) <= ?",
            [as_of],
        )
    else:
        con.execute(f"create table {target} as select {select} from {source}")
    return removed


def assert_as_of(
    con: duckdb.DuckDBPyConnection, tables: Iterable[PublishedTable], as_of: dt.date
) -> None:
    """Every table computed for D holds rows dated D only.

    A table left from another as-of date (a step that did not run) must not be published as if
    it were the current one.
    """
    stale = []
    for spec in tables:
        if spec.dating != AS_OF:
            continue
        other = con.execute(
            f"select count(*) from main.{quote(spec.name)} "
            "where cast(as_of_date as date) is distinct from ?",
            [as_of],
        ).fetchone()[0]
        if other:
            stale.append(f"{spec.name} ({other} rows)")
    if stale:
        raise PublishError(
            f"tables not computed for as-of date {as_of}: {', '.join(stale)}; nothing was published"
        )


def write_publication_table(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    published_at: dt.datetime,
    run_id: str,
    row_counts: dict[str, int],
) -> None:
    con.execute(
        f"""create table main.{PUBLICATION_TABLE} (
            as_of_date date, published_at timestamp, run_id varchar,
            table_name varchar, row_count bigint)"""
    )
    con.executemany(
        f"insert into main.{PUBLICATION_TABLE} values (?, ?, ?, ?, ?)",
        [(as_of, published_at, run_id, table, n) for table, n in row_counts.items()],
    )


def write_history_table(con: duckdb.DuckDBPyConnection, history: list[dict]) -> None:
    """Every as-of date this home published, with its latest publication's run and time."""
    con.execute(
        f"""create table main.{HISTORY_TABLE} (
            as_of_date date, run_id varchar, published_at timestamp)"""
    )
    rows = [(e["as_of_date"], e["run_id"], e["published_at"]) for e in history]
    if rows:
        con.executemany(f"insert into main.{HISTORY_TABLE} values (?, ?, ?)", rows)


def build_file(
    path: Path,
    warehouse: Path,
    as_of: dt.date,
    run_id: str,
    published_at: dt.datetime,
    tables: Iterable[PublishedTable],
    history: list[dict] = (),
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Write the complete publication into the new file ``path``, checkpointed and closed."""
    tables = list(tables)
    con = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY_LIMIT})
    try:
        con.execute(
            f"attach {literal(path)} as published (storage_version {literal(STORAGE_VERSION)})"
        )
        con.execute(f"attach {literal(warehouse)} as warehouse (read_only)")
        con.execute("use published")
        removed = {}
        for spec in tables:
            dropped = copy_table(con, spec, as_of)
            if dropped:
                removed[spec.name] = dropped
        con.execute("detach warehouse")
        assert_no_pii(con, "published")
        assert_as_of(con, tables, as_of)
        write_history_table(con, history)
        row_counts = {
            name: con.execute(f"select count(*) from main.{quote(name)}").fetchone()[0]
            for name in [*(spec.name for spec in tables), HISTORY_TABLE]
        }
        write_publication_table(con, as_of, published_at, run_id, row_counts)
        con.execute("checkpoint published")
        con.execute("use memory")
        con.execute("detach published")
    finally:
        con.close()
    _fsync(path)
    return row_counts, removed


def export_tables(database: Path, tables: Iterable[str], export_dir: Path) -> list[Path]:
    """Parquet and CSV per table (and the publication table) under ``export_dir``.

    Each file is written under a temporary name and renamed, so a reader of the folder sees an
    old or a new file, never half of one.
    """
    export_dir.mkdir(parents=True, exist_ok=True)
    written = []
    con = duckdb.connect(str(database), read_only=True)
    try:
        for table in [*tables, PUBLICATION_TABLE]:
            for fmt in EXPORT_FORMATS:
                target = export_dir / f"{table}.{fmt}"
                partial = export_dir / f".{table}.{fmt}.{uuid.uuid4().hex[:8]}.tmp"
                options = "format parquet" if fmt == "parquet" else "format csv, header true"
                try:
                    con.execute(f"copy main.{quote(table)} to {literal(partial)} ({options})")
                    os.replace(partial, target)
                finally:
                    partial.unlink(missing_ok=True)
                written.append(target)
    finally:
        con.close()
    return written


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
    partial = published.with_name(f".{published.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        row_counts, removed = build_file(
            partial, warehouse, as_of, run_id, published_at, tables, history
        )
        report_path = None
        if export_dir is not None:
            export_tables(partial, list(row_counts), export_dir)
            if report:
                from orchestration.report import write_report

                report_path = write_report(partial, export_dir / REPORT_NAME)
        if moves:
            write_log(published, [*log, entry])  # before the swap: it can only overstate
            os.replace(partial, published)
            _fsync(published.parent)
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


# ---------------------------------------------------------------------------------------------
# The home's record of publications (publications.json beside the published file)

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
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    partial.write_text(json.dumps(entries, indent=1) + "\n", encoding="utf-8")
    _fsync(partial)
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


def read_publication(published: Path) -> dict:
    """The as-of date, time, run id and row counts of the file BI tools currently see."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        rows = con.execute(
            f"select as_of_date, published_at, run_id, table_name, row_count "
            f"from main.{PUBLICATION_TABLE} order by table_name"
        ).fetchall()
    finally:
        con.close()
    if not rows:
        raise PublishError(f"{published} has an empty publication table")
    return {
        "as_of_date": rows[0][0],
        "published_at": rows[0][1],
        "run_id": rows[0][2],
        "row_counts": {table: count for *_, table, count in rows},
    }


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk, so the renamed file survives a crash intact."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
