"""Readers that stream a raw file as Arrow batches of text columns, keeping every row.

Every value is read as text: typing happens later in SQL, where a value that does not parse
sends its row to quarantine instead of failing the file. Rows the parser cannot split (a CSV line
with the wrong number of fields, a JSON line that is not an object) are returned separately as
malformed, with their line number, so that nothing read is silently dropped.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from orchestration.ingest.contract import CSV_SUFFIXES, JSONL_SUFFIXES, PARQUET_SUFFIXES

BATCH_ROWS = 200_000
CSV_BLOCK_BYTES = 8 << 20
SNIFF_BYTES = 64 << 10
DELIMITERS = ",;\t|"


class IngestError(Exception):
    """A file cannot be ingested at all: the message names the file (and column or row)."""


@dataclass
class Malformed:
    line: int
    text: str


@dataclass
class FileRead:
    """What a reader yields besides batches: the header and the unsplittable rows.

    Every batch a reader yields carries ``_row_number``: the line of the row in the file (CSV:
    the header is line 1; JSON lines: the line) or its position (Parquet, from 1).
    """

    path: Path
    columns: list[str] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)


def file_format(path: Path, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise IngestError(f"{path}: unsupported file type (expected CSV, Parquet or JSON lines)")


def normalize_header(name: str) -> str:
    return name.strip().strip('"').strip().lower()


def _open_text(path: Path, encoding: str) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding=encoding, newline="")


def read_header_line(path: Path, encoding: str = "utf-8") -> str:
    try:
        with _open_text(path, encoding) as handle:
            header = handle.readline(SNIFF_BYTES)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise IngestError(f"{path}: unreadable ({exc})") from exc
    if not header.strip():
        raise IngestError(f"{path}: the file is empty (no header line)")
    return header


def sniff_delimiter(header: str) -> str:
    """The delimiter of a CSV file, judged from its header line."""
    try:
        return csv.Sniffer().sniff(header, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _line_numbers(first: int, count: int, malformed: list[Malformed]) -> pa.Array:
    """Lines of the valid rows ``first .. first + count - 1`` (0-based among valid rows).

    The k-th valid row sits on line 2 + k + (malformed lines before it); a malformed line with
    ``i`` malformed lines before it has ``line - 2 - i`` valid rows before it.
    """
    lines = np.sort(np.array([m.line for m in malformed], dtype=np.int64))
    valid_before = lines - 2 - np.arange(len(lines))
    k = np.arange(first, first + count, dtype=np.int64)
    return pa.array(k + 2 + np.searchsorted(valid_before, k, side="right"))


def read_csv(
    path: Path, info: FileRead, *, delimiter: str | None = None, encoding: str = "utf-8"
) -> Iterator[pa.RecordBatch]:
    """Stream a (possibly gzipped) CSV file; malformed lines go to ``info.malformed``."""
    header_line = read_header_line(path, encoding)
    delimiter = delimiter or sniff_delimiter(header_line)
    header = next(csv.reader([header_line], delimiter=delimiter))
    info.columns = [normalize_header(c) for c in header]

    def on_invalid(row: pacsv.InvalidRow) -> str:
        info.malformed.append(Malformed(row.number or -1, row.text))
        return "skip"

    try:
        reader = pacsv.open_csv(
            pa.input_stream(str(path), compression="detect"),
            read_options=pacsv.ReadOptions(
                use_threads=False,
                block_size=CSV_BLOCK_BYTES,
                column_names=info.columns,
                skip_rows=1,
                encoding=encoding,
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in info.columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        valid = 0
        for batch in reader:
            # Parsing is sequential, so every malformed line before this batch's rows is known.
            rows = _line_numbers(valid, batch.num_rows, info.malformed)
            valid += batch.num_rows
            yield batch.append_column("_row_number", rows)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError, EOFError) as exc:
        raise IngestError(f"{path}: unreadable CSV ({exc})") from exc


def read_parquet(path: Path, info: FileRead) -> Iterator[pa.RecordBatch]:
    """Stream a Parquet file with every column cast to text."""
    try:
        parquet = pq.ParquetFile(path)
        info.columns = [normalize_header(c) for c in parquet.schema_arrow.names]
        position = 1
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            arrays = [col.cast(pa.string()) for col in batch.columns]
            rows = pa.array(np.arange(position, position + batch.num_rows, dtype=np.int64))
            position += batch.num_rows
            yield pa.RecordBatch.from_arrays([*arrays, rows], names=[*info.columns, "_row_number"])
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{path}: unreadable Parquet ({exc})") from exc


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


# Arrow types whose text cast equals what the Python reader writes (``_as_text``).
_ARROW_TEXT_TYPES = (pa.types.is_string, pa.types.is_int64, pa.types.is_boolean, pa.types.is_null)


def _read_jsonl_arrow(path: Path) -> pa.Table | None:
    """The file through Arrow's (C++) JSON reader, as text columns, when that is exactly what
    the Python reader would produce: every line one object, no blank line, values that are
    strings, integers, booleans or null, keys distinct once normalized. Otherwise None."""
    try:
        data = pa.input_stream(str(path), compression="detect").read()
    except (OSError, pa.ArrowException) as exc:
        raise IngestError(f"{path}: unreadable JSON lines ({exc})") from exc
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    try:
        table = pajson.read_json(pa.BufferReader(data))
        dated = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
        if dated:  # Arrow parses date strings; read those columns again as the text they are
            schema = pa.schema([(name, pa.string()) for name in dated])
            options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
            order = table.column_names
            table = pajson.read_json(pa.BufferReader(data), parse_options=options).select(order)
    except pa.ArrowInvalid:
        return None  # a malformed line, or a key whose values change type
    names = [normalize_header(n) for n in table.column_names]
    exact = all(any(ok(f.type) for ok in _ARROW_TEXT_TYPES) for f in table.schema)
    if table.num_rows != lines or len(set(names)) != len(names) or not exact:
        return None
    columns = [pc.cast(c, pa.string()) for c in table.columns]
    return pa.Table.from_arrays(columns, names=names)


def read_jsonl(path: Path, info: FileRead, encoding: str = "utf-8") -> Iterator[pa.RecordBatch]:
    """JSON lines (read whole: not the bulk format). The header is every key seen in the file.

    Clean UTF-8 files go through Arrow's reader (about 10x faster); any file it cannot read
    exactly as the line-by-line Python reader would (malformed lines, blank lines, mixed types)
    is read by the latter, which keeps every line and its number."""
    if encoding.replace("-", "").lower() == "utf8":
        table = _read_jsonl_arrow(path)
        if table is not None:
            info.columns = table.column_names
            numbers = pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64))
            yield from table.append_column("_row_number", numbers).to_batches(BATCH_ROWS)
            return
    yield from read_jsonl_lines(path, info, encoding)


def read_jsonl_lines(
    path: Path, info: FileRead, encoding: str = "utf-8"
) -> Iterator[pa.RecordBatch]:
    """JSON lines parsed line by line in Python: any encoding, malformed lines kept."""
    rows: list[dict[str, str | None]] = []
    numbers: list[int] = []
    seen: dict[str, None] = {}
    names: dict[str, str] = {}  # raw key -> normalized name, computed once per distinct key
    try:
        with _open_text(path, encoding) as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    record = None
                if not isinstance(record, dict):
                    info.malformed.append(Malformed(line_number, line.rstrip("\n")))
                    continue
                row = {
                    names.get(k) or names.setdefault(k, normalize_header(k)): (
                        v if type(v) is str else _as_text(v)
                    )
                    for k, v in record.items()
                }
                seen.update(dict.fromkeys(row))
                rows.append(row)
                numbers.append(line_number)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise IngestError(f"{path}: unreadable JSON lines ({exc})") from exc
    info.columns = list(seen)
    for start in range(0, len(rows), BATCH_ROWS):
        chunk = rows[start : start + BATCH_ROWS]
        columns = {n: pa.array([r.get(n) for r in chunk], pa.string()) for n in info.columns}
        columns["_row_number"] = pa.array(numbers[start : start + BATCH_ROWS], pa.int64())
        yield pa.RecordBatch.from_pydict(columns)


def read_whitespace(
    path: Path, info: FileRead, encoding: str = "utf-8"
) -> Iterator[pa.RecordBatch]:
    """Whitespace-aligned legacy text: a header line, then fields separated by runs of blanks."""
    rows: list[list[str]] = []
    numbers: list[int] = []
    try:
        with _open_text(path, encoding) as handle:
            header = handle.readline()
            info.columns = [normalize_header(c) for c in header.split()]
            if not info.columns:
                raise IngestError(f"{path}: the file is empty (no header line)")
            for line_number, line in enumerate(handle, start=2):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != len(info.columns):
                    info.malformed.append(Malformed(line_number, line.rstrip("\n")))
                    continue
                rows.append(fields)
                numbers.append(line_number)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise IngestError(f"{path}: unreadable text file ({exc})") from exc
    for start in range(0, len(rows), BATCH_ROWS):
        chunk = rows[start : start + BATCH_ROWS]
        columns = {
            name: pa.array([r[i] for r in chunk], pa.string())
            for i, name in enumerate(info.columns)
        }
        columns["_row_number"] = pa.array(numbers[start : start + BATCH_ROWS], pa.int64())
        yield pa.RecordBatch.from_pydict(columns)


def read_any(
    path: Path,
    info: FileRead,
    *,
    format: str = "auto",  # noqa: A002 - the mapping's key
    encoding: str = "utf-8",
    delimiter: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """A file of any supported format as text batches (the format from its name unless given)."""
    fmt = file_format(path, format)
    if fmt == "csv":
        return read_csv(path, info, delimiter=delimiter, encoding=encoding)
    if fmt == "parquet":
        return read_parquet(path, info)
    if fmt == "whitespace":
        return read_whitespace(path, info, encoding=encoding)
    return read_jsonl(path, info, encoding=encoding)
