"""Load raw drops into the warehouse: every row read ends staged or quarantined, never lost.

A *drop* is the set of files of one source dated one day (the date is in the folder or file
name). Loading a drop replaces whatever an earlier load of that drop wrote, in one transaction,
so re-ingesting is idempotent and a corrected file replaces the rows of the one it supersedes.
Unchanged drops are skipped by fingerprint.

A row becomes visible to the models on its ``_visible_from`` date: a daily drop's rows on the
drop date (the night they arrived, so a backfill for D sees what that night saw), a *history*
file's rows on their own event date. History files (``raw/<source>/history/<date>/...``, what
``clientele run --mapping`` makes of an imported export) hold months or years of events at
once; they are loaded by every run, whatever its as-of date, and each as-of date sees exactly
the events up to it.

Tables written (schema ``raw``):
- ``raw.<source>``: accepted rows, typed, with load metadata (``_file``, ``_row_number``,
  ``_drop_date``, ``_visible_from``, ``_load_id``, ``_loaded_at``);
- ``raw.quarantine``: rejected rows with a machine-readable ``reason``, the ``column_name`` at
  fault and the raw ``record`` as JSON;
- ``raw.reconciliation``: per file, rows read = rows staged + rows quarantined (``history``
  marks history files);
- ``raw.loaded_drops``: the fingerprint of each loaded drop.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.ingest.classify import classify_sql
from orchestration.ingest.contract import (
    BOOLEAN,
    DECIMAL,
    INTEGER,
    SOURCES,
    TEXT,
    TIMESTAMP,
    Source,
)
from orchestration.ingest.drops import find_drops, fingerprint, is_history
from orchestration.ingest.mapping import (
    LINE,
    LINE_TYPE,
    MAPPED_COLUMN,
    MAPPED_REASON,
    MAPPED_VALUE,
    Mapping,
    line_layout,
    read_source_file,
)
from orchestration.ingest.quarantine import describe, reason_counts
from orchestration.ingest.readers import FileRead, IngestError
from orchestration.settings import DUCKDB_MEMORY_LIMIT
from orchestration.warehouse import q, scalar

# What a mapping says of a row it rejects itself (a lookup without a match), landed beside it.
MAPPED = (MAPPED_REASON, MAPPED_COLUMN, MAPPED_VALUE)
# Drops landed before they are classified and committed together: bounds memory on big loads.
LANDING_ROW_LIMIT = 5_000_000
# Files read in parallel ahead of landing (see Loader._read_ahead).
READ_THREADS = 2
READ_AHEAD = 4
READ_AHEAD_MAX_BYTES = 64 << 20

SQL_TYPES = {
    TEXT: "VARCHAR",
    TIMESTAMP: "TIMESTAMP",
    DECIMAL: "DECIMAL(18,4)",
    INTEGER: "BIGINT",
    BOOLEAN: "BOOLEAN",
}
LOAD_COLUMNS = {
    "_file": "VARCHAR",
    "_row_number": "BIGINT",
    "_drop_date": "DATE",
    "_visible_from": "DATE",
    "_load_id": "VARCHAR",
    "_loaded_at": "TIMESTAMP",
}


@dataclass(frozen=True)
class FileLoad:
    """The reconciliation of one file: rows read = rows staged + rows quarantined."""

    source: str
    drop_date: dt.date
    file: str
    rows_read: int
    rows_staged: int
    rows_quarantined: int


@dataclass
class SourceLoad:
    """What one ingestion of a source did."""

    source: str
    load_id: str
    drops_loaded: list[dt.date]
    drops_skipped: int
    files: list[FileLoad]
    quarantine_by_reason: dict[str, int]

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_staged(self) -> int:
        return sum(f.rows_staged for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)


# ---------------------------------------------------------------------------------------------
# Warehouse tables


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for source in SOURCES.values():
        columns = {c.name: SQL_TYPES[c.kind] for c in source.columns} | LOAD_COLUMNS
        table = f"raw.{q(source.name)}"
        listed = ", ".join(f"{q(name)} {kind}" for name, kind in columns.items())
        con.execute(f"create table if not exists {table} ({listed})")
        present = {
            row[0]
            for row in con.execute(
                "select column_name from duckdb_columns() where database_name = current_database()"
                " and schema_name = 'raw' and table_name = ?",
                [source.name],
            ).fetchall()
        }
        for name, kind in columns.items():  # the contract may have grown since
            if name not in present:
                con.execute(f"alter table {table} add column {q(name)} {kind}")
        if "_visible_from" not in present:  # rows loaded before it: visible on their drop date
            con.execute(f"update {table} set _visible_from = _drop_date")
    con.execute(
        """create table if not exists raw.quarantine (
            source VARCHAR, drop_date DATE, file VARCHAR, row_number BIGINT, reason VARCHAR,
            column_name VARCHAR, record VARCHAR, load_id VARCHAR, loaded_at TIMESTAMP)"""
    )
    con.execute(
        """create table if not exists raw.reconciliation (
            source VARCHAR, drop_date DATE, file VARCHAR, rows_read BIGINT, rows_staged BIGINT,
            rows_quarantined BIGINT, load_id VARCHAR, loaded_at TIMESTAMP, history BOOLEAN)"""
    )
    con.execute(
        "alter table raw.reconciliation add column if not exists history BOOLEAN default false"
    )
    con.execute(
        """create table if not exists raw.loaded_drops (
            source VARCHAR, drop_date DATE, fingerprint VARCHAR, load_id VARCHAR,
            loaded_at TIMESTAMP)"""
    )


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    names: list[str],
    rows: list[tuple],
    *,
    loaded_at: bool = False,
) -> None:
    """Insert many small rows (one per file or drop) in one statement through Arrow: DuckDB's
    ``executemany`` costs about 0.5 ms a row, a second per source of 1,095 daily drops."""
    if not rows:
        return
    columns = [list(column) for column in zip(*rows, strict=True)]
    con.register("_rows", pa.table(dict(zip(names, columns, strict=True))))
    try:
        stamp = ", current_timestamp::TIMESTAMP as loaded_at" if loaded_at else ""
        con.execute(f"insert into {table} by name select *{stamp} from _rows")
    finally:
        con.unregister("_rows")


# ---------------------------------------------------------------------------------------------
# Loading


class Loader:
    """Loads the drops of sources into one warehouse connection."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        raw_dir: Path,
        *,
        mapping: Mapping | None = None,
    ) -> None:
        self.con = con
        self.raw_dir = raw_dir
        self.mapping = mapping
        # The same ceiling as dbt's connection (profiles.yml); rows need no insertion order.
        con.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        con.execute("set preserve_insertion_order = false")
        ensure_raw_schema(con)

    # -- public ---------------------------------------------------------------------------

    def load(self, source_name: str, up_to: dt.date | None = None) -> SourceLoad:
        """Bring ``raw.<source>`` up to date with every drop dated on or before ``up_to`` and
        every drop that holds a history file (whatever its date: each row is visible from its
        own event date)."""
        source = SOURCES[source_name]
        source_dir = self.raw_dir / source.name
        drops = {
            d: files
            for d, files in find_drops(source_dir).items()
            if not up_to or d <= up_to or any(is_history(f, source_dir) for f in files)
        }
        if source.mandatory and not drops and not self._has_rows(source):
            raise IngestError(f"{source_dir}: no files for the mandatory source '{source.name}'")
        known = dict(
            self.con.execute(
                "select drop_date, fingerprint from raw.loaded_drops where source = ?",
                [source.name],
            ).fetchall()
        )
        pending = {d: f for d, f in sorted(drops.items()) if known.get(d) != fingerprint(f)}
        load_id = uuid.uuid4().hex[:12]
        result = SourceLoad(source.name, load_id, [], len(drops) - len(pending), [], {})
        group: list[dt.date] = []
        self._start_landing(source)
        files = [(d, path) for d, paths in pending.items() for path in paths]
        for (drop_date, path), info, batches in self._read_ahead(source, files):
            self._land_file(source, path, drop_date, info, batches)
            if path == pending[drop_date][-1]:  # the drop is complete
                group.append(drop_date)
                if self._landed >= LANDING_ROW_LIMIT:
                    self._commit(source, group, pending, load_id, result)
                    group = []
                    self._start_landing(source)
        if group:
            self._commit(source, group, pending, load_id, result)
        self._unregister_landing()
        self.con.execute(
            "drop table if exists _malformed; "
            "drop table if exists _files; drop table if exists _checked; "
            "drop table if exists _dupes"
        )
        if source.mandatory and not self._has_rows(source):
            raise IngestError(self._no_valid_rows(source, source_dir))
        return result

    def _no_valid_rows(self, source: Source, source_dir: Path) -> str:
        """Why a mandatory source has no valid row: every reason, its count and an example."""
        read = scalar(
            self.con,
            "select coalesce(sum(rows_read), 0) from raw.reconciliation where source = ?",
            [source.name],
        )
        message = f"{source_dir}: the mandatory source '{source.name}' has no valid rows"
        if not read:
            return message + " (its files hold no rows)"
        counts = reason_counts(self.con, source.name)
        return f"{message}: all {read:,} rows read were quarantined:\n{describe(counts)}"

    # -- landing --------------------------------------------------------------------------

    def _start_landing(self, source: Source) -> None:
        """Landed rows stay in Arrow, viewed by DuckDB as ``_landing`` at commit: classifying
        reads them once, and only quarantined rows are read again (copying every landed row
        into a DuckDB table first cost more than the one scan)."""
        self.con.execute(
            """create or replace temp table _malformed (
                _file VARCHAR, _drop_date DATE, _row_number BIGINT, record VARCHAR)"""
        )
        self.con.execute(
            """create or replace temp table _files (
                _file VARCHAR, _drop_date DATE, _history BOOLEAN, _layout VARCHAR[])"""
        )
        self._unregister_landing()
        names = [*source.column_names, *MAPPED, "_row_number", LINE]
        names += ["_file", "_drop_date", "_history"]
        types = [pa.string()] * (len(source.column_names) + len(MAPPED))
        types += [pa.int64(), LINE_TYPE, pa.string(), pa.date32(), pa.bool_()]
        self._landing_schema = pa.schema(list(zip(names, types, strict=True)))
        self._landed = 0
        # per file: name, drop date, history, and the column names of its lines (mapped files)
        self._files: list[tuple[str, dt.date, bool, list[str] | None]] = []
        self._malformed: list[tuple[str, dt.date, int, str]] = []

    def _register_landing(self) -> None:
        table = pa.Table.from_batches(self._buffer, schema=self._landing_schema)
        self.con.register("_landing", table)

    def _unregister_landing(self) -> None:
        """Drop the landed rows: DuckDB's view of them and the Arrow batches."""
        self.con.unregister("_landing")  # a no-op when nothing is registered
        self._buffer: list[pa.RecordBatch] = []

    def _read_ahead(
        self, source: Source, files: list[tuple[dt.date, Path]]
    ) -> Iterator[tuple[tuple[dt.date, Path], FileRead, Iterable[pa.RecordBatch]]]:
        """Each file's batches, in order. Files up to ``READ_AHEAD_MAX_BYTES`` are read whole
        by ``READ_THREADS`` threads, a few files ahead (Arrow parses without the GIL: daily
        drops are many small files); bigger ones are streamed here, to bound memory. A file
        that cannot be read raises in its turn, as if read in order."""
        queue: deque[tuple[tuple[dt.date, Path], FileRead, Future | Iterable]] = deque()

        def read_whole(path: Path, info: FileRead) -> list[pa.RecordBatch]:
            return list(read_source_file(source, path, info, self.mapping))

        def resolved(item):
            key, info, pending = item
            return key, info, pending.result() if isinstance(pending, Future) else pending

        with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="read") as pool:
            for drop_date, path in files:
                info = FileRead(path)
                if path.stat().st_size <= READ_AHEAD_MAX_BYTES:
                    pending = pool.submit(read_whole, path, info)
                else:
                    pending = read_source_file(source, path, info, self.mapping)
                queue.append(((drop_date, path), info, pending))
                if len(queue) > READ_AHEAD:
                    yield resolved(queue.popleft())
            while queue:
                yield resolved(queue.popleft())

    def _land_file(
        self,
        source: Source,
        path: Path,
        drop_date: dt.date,
        info: FileRead,
        batches: Iterable[pa.RecordBatch],
    ) -> None:
        relative = str(path.relative_to(self.raw_dir))
        history = is_history(path, self.raw_dir / source.name)
        checked = False
        for batch in batches:
            if not checked:
                self._check_columns(source, path, batch.schema.names)
                checked = True
            n = batch.num_rows
            arrays = []
            for name in [*source.column_names, *MAPPED, "_row_number"]:
                index = batch.schema.get_field_index(name)
                arrays.append(batch.column(index) if index >= 0 else pa.nulls(n, pa.string()))
            index = batch.schema.get_field_index(LINE)
            whole = index >= 0 and batch.schema.field(index).type == LINE_TYPE
            arrays.append(batch.column(index) if whole else pa.nulls(n, LINE_TYPE))
            arrays += [
                pa.repeat(relative, n),
                pa.repeat(pa.scalar(drop_date, pa.date32()), n),
                pa.repeat(history, n),
            ]
            self._buffer.append(pa.RecordBatch.from_arrays(arrays, schema=self._landing_schema))
            self._landed += n
        if not checked and not self._mapped(source):
            # a file with a header and no rows still must have the right columns
            self._check_columns(source, path, info.columns)
        layout = line_layout(info.columns) if self._mapped(source) else None
        self._files.append((relative, drop_date, history, layout))
        self._malformed.extend((relative, drop_date, m.line, m.text) for m in info.malformed)

    def _mapped(self, source: Source) -> bool:
        return self.mapping is not None and source.name in self.mapping.sources

    def _check_columns(self, source: Source, path: Path, present: list[str]) -> None:
        present_set = set(present)
        for column in source.required_columns:
            if column not in present_set:
                raise IngestError(
                    f"{path}: required column '{column}' of source '{source.name}' is missing "
                    f"(found: {', '.join(c for c in present if not c.startswith('_')) or 'none'})"
                )
        if source.one_of and not present_set & set(source.one_of):
            raise IngestError(
                f"{path}: source '{source.name}' needs at least one of the columns "
                f"{', '.join(source.one_of)}"
            )

    # -- committing -----------------------------------------------------------------------

    def _has_rows(self, source: Source) -> bool:
        return scalar(self.con, f"select count(*) > 0 from raw.{q(source.name)}")

    def _commit(
        self,
        source: Source,
        drop_dates: list[dt.date],
        pending: dict[dt.date, list[Path]],
        load_id: str,
        result: SourceLoad,
    ) -> None:
        """Replace the rows of these drops with the landed ones, all or nothing."""
        con = self.con
        self._register_landing()
        insert_rows(con, "_files", ["_file", "_drop_date", "_history", "_layout"], self._files)
        insert_rows(
            con, "_malformed", ["_file", "_drop_date", "_row_number", "record"], self._malformed
        )
        table = f"raw.{q(source.name)}"
        check_products = source.name == "orders" and scalar(
            con, "select count(*) > 0 from raw.products"
        )
        for statement in classify_sql(source, check_products):
            con.execute(statement)
        typed = ", ".join(q(c) for c in source.column_names)
        fields = ", ".join(f"{q(c)} := l.{q(c)}" for c in source.column_names)
        # a mapped file's rows also carry the line as the user's file has it
        line = "line := map(f._layout, l._line)"
        record = f"""case
            when l._line is null then to_json(struct_pack({fields}))
            when l._mapped_reason is null then to_json(struct_pack({fields}, {line}))
            else to_json(struct_pack({fields}, {line}, lookup_key := l._mapped_value)) end"""
        dates = [d.isoformat() for d in drop_dates]
        con.execute("begin transaction")
        try:
            con.execute(
                f"delete from {table} where _drop_date in (select unnest(?::DATE[]))", [dates]
            )
            for t in ("raw.quarantine", "raw.reconciliation", "raw.loaded_drops"):
                con.execute(
                    f"delete from {t} where source = ? and drop_date in (select unnest(?::DATE[]))",
                    [source.name, dates],
                )
            con.execute(
                f"""insert into {table} by name
                    select {typed}, _file, _row_number, _drop_date, _visible_from,
                           ? as _load_id, current_timestamp::TIMESTAMP as _loaded_at
                    from _checked c
                    anti join _dupes d using (_file, _row_number)
                    where c._reason is null""",
                [load_id],
            )
            con.execute(
                f"""insert into raw.quarantine
                    select ?, r._drop_date, r._file, r._row_number, r._reason, r._column,
                           {record}, ?, current_timestamp::TIMESTAMP
                    from (
                        select _file, _row_number, _drop_date, _reason, _column
                        from _checked where _reason is not null
                        union all
                        select d._file, d._row_number, c._drop_date, d._reason, d._column
                        from _dupes d join _checked c using (_file, _row_number)
                    ) r
                    join _landing l using (_file, _row_number)
                    join (select _file, _layout from _files) f using (_file)
                    union all
                    select ?, _drop_date, _file, _row_number, 'malformed_line', '*',
                           to_json(struct_pack(line := record)), ?, current_timestamp::TIMESTAMP
                    from _malformed""",
                [source.name, load_id, source.name, load_id],
            )
            con.execute(
                """insert into raw.reconciliation
                   select ?, f._drop_date, f._file,
                          coalesce(c.n, 0) + coalesce(m.n, 0),
                          coalesce(c.n, 0) - coalesce(c.bad, 0) - coalesce(d.n, 0),
                          coalesce(c.bad, 0) + coalesce(d.n, 0) + coalesce(m.n, 0),
                          ?, current_timestamp::TIMESTAMP, f._history
                   from _files f
                   left join (select _file, count(*) as n, count(_reason) as bad
                              from _checked group by _file) c using (_file)
                   left join (select _file, count(*) as n from _dupes group by _file) d
                     using (_file)
                   left join (select _file, count(*) as n from _malformed group by _file) m
                     using (_file)""",
                [source.name, load_id],
            )
            insert_rows(
                con,
                "raw.loaded_drops",
                ["source", "drop_date", "fingerprint", "load_id"],
                [(source.name, d, fingerprint(pending[d]), load_id) for d in drop_dates],
                loaded_at=True,
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        self._record(source, dates, load_id, result)
        result.drops_loaded.extend(drop_dates)

    def _record(self, source: Source, dates: list[str], load_id: str, result: SourceLoad) -> None:
        rows = self.con.execute(
            """select drop_date, file, rows_read, rows_staged, rows_quarantined
               from raw.reconciliation where source = ? and load_id = ?
               and drop_date in (select unnest(?::DATE[])) order by drop_date, file""",
            [source.name, load_id, dates],
        ).fetchall()
        result.files.extend(FileLoad(source.name, *row) for row in rows)
        for reason, count in self.con.execute(
            """select reason, count(*) from raw.quarantine where source = ? and load_id = ?
               and drop_date in (select unnest(?::DATE[])) group by reason""",
            [source.name, load_id, dates],
        ).fetchall():
            result.quarantine_by_reason[reason] = result.quarantine_by_reason.get(reason, 0) + count
