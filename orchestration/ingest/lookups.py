"""Lookups: one contract source built from several files of a normalized export.

Shops and marketplaces often export one file per entity: order lines without the customer,
orders with their status, time and a per-order customer key, customers mapping that key to the
person. A mapping source reads one *primary* file (its rows are the rows reconciled and staged)
and may look values up in other files by key, in order, each lookup keyed on a column of the
primary file or of an earlier lookup (``order.customer_id``). A line whose key a required lookup
does not find is quarantined as ``unmatched_key``; a key that two different rows of the lookup
file share is ``ambiguous_key`` (which row would be a guess); exact duplicate rows of a lookup
file count once.

Where the files are: at import, beside the primary file in the user's input folder (the
lookup's ``files`` glob); once imported, in ``_lookup/<name>/`` beside the primary file's copy
in ``raw/<source>/...``, so a drop carries its lookups, and replacing one changes the drop's
fingerprint (``drops.fingerprint``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from orchestration.ingest.readers import FileRead, IngestError, normalize_header, read_any

LOOKUP_DIR = "_lookup"  # beside an imported file: _lookup/<lookup name>/<files>
KEY = "__key"


@dataclass(frozen=True)
class Lookup:
    """One lookup of a mapping source (``sources.<source>.lookups.<name>``)."""

    name: str
    files: str  # glob beside the primary file, at import
    key: tuple[str, ...]  # the lookup file's key column (alternatives, first present wins)
    by: tuple[str, ...]  # the column holding the key: the primary file's, or "<lookup>.<column>"
    format: str = "auto"
    encoding: str = "utf-8"
    delimiter: str | None = None
    required: bool = True  # False: a line without a match keeps empty looked-up values


@dataclass(frozen=True)
class LookupTable:
    """A lookup's files read as text: one row per distinct key."""

    lookup: Lookup
    files: tuple[str, ...]  # file names, for messages
    key_column: str
    columns: dict[str, pa.Array]  # normalized column name -> values, row i has keys[i]
    keys: pa.Array  # distinct trimmed keys (no empty key)
    ambiguous: pa.Array  # keys shared by different rows
    rows_read: int

    @property
    def label(self) -> str:
        return f"{'+'.join(self.files)}:{self.key_column}"


def lookup_files(lookup: Lookup, data_path: Path) -> list[Path]:
    """The files of a lookup for one primary file (see the module docstring)."""
    placed = data_path.parent / LOOKUP_DIR / lookup.name
    if placed.is_dir():
        files = sorted(p for p in placed.iterdir() if p.is_file() and not p.name.startswith("."))
    else:
        files = sorted(
            p for p in data_path.parent.glob(lookup.files) if p.is_file() and p != data_path
        )
    if not files:
        raise IngestError(
            f"{data_path}: lookup '{lookup.name}' finds no file: nothing in {placed} and no file "
            f"matching '{lookup.files}' beside it"
        )
    return files


def read_table(lookup: Lookup, files: list[Path]) -> LookupTable:
    """A lookup's files as one table (cached while the files do not change)."""
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _read_table(lookup, stamp)


@functools.lru_cache(maxsize=16)
def _read_table(lookup: Lookup, stamp: tuple[tuple[str, int, int], ...]) -> LookupTable:
    tables = []
    for name, _, _ in stamp:
        path = Path(name)
        info = FileRead(path)
        batches = list(
            read_any(
                path,
                info,
                format=lookup.format,
                encoding=lookup.encoding,
                delimiter=lookup.delimiter,
            )
        )
        if info.malformed:
            first = info.malformed[0]
            raise IngestError(
                f"{path}: lookup '{lookup.name}': {len(info.malformed)} line(s) cannot be split "
                f"into the file's columns (first: line {first.line})"
            )
        table = (
            pa.Table.from_batches(batches)
            if batches
            else pa.table({c: pa.array([], pa.string()) for c in info.columns})
        )
        table = table.drop_columns([c for c in table.column_names if c == "_row_number"])
        names = [normalize_header(k) for k in lookup.key]
        key_column = next((k for k in names if k in table.column_names), None)
        if key_column is None:
            raise IngestError(
                f"{path}: lookup '{lookup.name}': key column "
                + " or ".join(f"'{k}'" for k in lookup.key)
                + f" is missing (found: {', '.join(table.column_names) or 'none'})"
            )
        tables.append((table, key_column))
    key_column = tables[0][1]
    combined = pa.concat_tables(
        [
            t.rename_columns([key_column if c == k else c for c in t.column_names])
            for t, k in tables
        ],
        promote_options="default",
    )
    rows_read = combined.num_rows
    columns = {c: combined[c].combine_chunks().cast(pa.string()) for c in combined.column_names}
    trimmed = pc.utf8_trim_whitespace(columns[key_column])
    keyed = pa.table({**columns, KEY: trimmed})
    keyed = keyed.filter(pc.fill_null(pc.not_equal(keyed[KEY], ""), False))
    distinct = keyed.group_by(keyed.column_names, use_threads=False).aggregate([])
    counts = distinct.group_by(KEY, use_threads=False).aggregate([([], "count_all")])
    shared = pc.greater(counts["count_all"], 1)
    ambiguous = counts[KEY].filter(shared).combine_chunks()
    unique = distinct.filter(pc.invert(pc.is_in(distinct[KEY], value_set=ambiguous)))
    return LookupTable(
        lookup=lookup,
        files=tuple(Path(name).name for name, _, _ in stamp),
        key_column=key_column,
        columns={c: unique[c].combine_chunks() for c in columns},
        keys=unique[KEY].combine_chunks(),
        ambiguous=ambiguous,
        rows_read=rows_read,
    )


def join(table: LookupTable, by: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """For each value of ``by``: the row of ``table`` with that key (null when none), whether it
    found none (unmatched, an empty key included) and whether its key is ambiguous."""
    trimmed = pc.utf8_trim_whitespace(by)
    index = pc.index_in(trimmed, value_set=table.keys)
    ambiguous = pc.fill_null(pc.is_in(trimmed, value_set=table.ambiguous), False)
    unmatched = pc.and_(pc.is_null(index), pc.invert(ambiguous))
    return index, unmatched, ambiguous
