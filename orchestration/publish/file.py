"""Building the published DuckDB file: a NEW file, written under a temporary name in the
storage format BI tools can read, with each published table copied from the working
warehouse (ATTACHed read-only) without contact-detail columns, verified (no PII, every dated
table for D), with its publication and history tables, checkpointed and flushed to disk."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

import duckdb

from orchestration.ingest.contract import PII_COLUMNS
from orchestration.publish.tables import (
    AS_OF,
    HISTORY_TABLE,
    PUBLICATION_TABLE,
    UP_TO,
    PublishedTable,
)
from orchestration.settings import DUCKDB_MEMORY_LIMIT
from orchestration.warehouse import q as quote
from orchestration.warehouse import quote_identifier

# The DuckDB storage format of the published file: BI tools embed their own DuckDB, often
# older than the pipeline's, and a file in the newest format would be unreadable to them.
STORAGE_VERSION = os.environ.get("CLIENTELE_PUBLISHED_STORAGE_VERSION", "v1.0.0")


class PublishError(RuntimeError):
    """The publication cannot be made; the previous one is left as it was."""


class PiiLeakError(PublishError):
    """A contact-detail column would have reached the published file."""


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
    fsync(path)
    return row_counts, removed


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


def partial_path(path: Path) -> Path:
    """Where a writer builds the new version of ``path`` before it replaces it: a hidden
    sibling, ``.<name>.<id>.tmp``, unique to the writer."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def remove_partials(path: Path) -> list[Path]:
    """Delete the partial versions of ``path`` (files, with a DuckDB file's WAL, or folders)
    that writers which died left behind; returns them. Only call it while no writer of ``path``
    can be running."""
    found = sorted(path.parent.glob(f".{path.name}.*.tmp")) + sorted(
        path.parent.glob(f".{path.name}.*.tmp.wal")
    )
    for partial in found:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        else:
            partial.unlink(missing_ok=True)
    return found


def fsync(path: Path) -> None:
    """Flush a file or folder to disk, so the renamed file survives a crash intact."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
