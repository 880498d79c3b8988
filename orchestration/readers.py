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

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestration.contract import CSV_SUFFIXES, JSONL_SUFFIXES, PARQUET_SUFFIXES

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
    """What a reader yields besides batches: the header and the unsplittable rows."""

    path: Path
    columns: list[str] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    # First row number of data: 2 for CSV (line 1 is the header), 1 otherwise.
    first_row: int = 1


def file_format(path: Path) -> str:
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


def sniff_delimiter(path: Path, encoding: str = "utf-8") -> str:
    """The delimiter of a CSV file, judged from its first lines."""
    try:
        with _open_text(path, encoding) as handle:
            sample = handle.read(SNIFF_BYTES)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise IngestError(f"{path}: unreadable ({exc})") from exc
    if not sample.strip():
        raise IngestError(f"{path}: the file is empty (no header line)")
    try:
        return csv.Sniffer().sniff(sample.split("\n", 20)[0], delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = sample.split("\n", 1)[0]
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def read_csv(
    path: Path, info: FileRead, *, delimiter: str | None = None, encoding: str = "utf-8"
) -> Iterator[pa.RecordBatch]:
    """Stream a (possibly gzipped) CSV file; malformed lines go to ``info.malformed``."""
    delimiter = delimiter or sniff_delimiter(path, encoding)
    with _open_text(path, encoding) as handle:
        header = next(csv.reader([handle.readline()], delimiter=delimiter))
    info.columns = [normalize_header(c) for c in header]
    info.first_row = 2

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
        yield from reader
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError, EOFError) as exc:
        raise IngestError(f"{path}: unreadable CSV ({exc})") from exc


def read_parquet(path: Path, info: FileRead) -> Iterator[pa.RecordBatch]:
    """Stream a Parquet file with every column cast to text."""
    try:
        parquet = pq.ParquetFile(path)
        info.columns = [normalize_header(c) for c in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            arrays = [col.cast(pa.string()) for col in batch.columns]
            yield pa.RecordBatch.from_arrays(arrays, names=info.columns)
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


def read_jsonl(path: Path, info: FileRead, encoding: str = "utf-8") -> Iterator[pa.RecordBatch]:
    """Stream JSON lines. The header is every key seen in the file's first batch or later."""
    rows: list[dict[str, str | None]] = []
    seen: dict[str, None] = {}
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
                row = {normalize_header(k): _as_text(v) for k, v in record.items()}
                seen.update(dict.fromkeys(row))
                row["_row_number"] = str(line_number)
                rows.append(row)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise IngestError(f"{path}: unreadable JSON lines ({exc})") from exc
    info.columns = list(seen)
    for start in range(0, len(rows), BATCH_ROWS):
        chunk = rows[start : start + BATCH_ROWS]
        names = [*info.columns, "_row_number"]
        yield pa.RecordBatch.from_pydict(
            {n: pa.array([r.get(n) for r in chunk], pa.string()) for n in names}
        )
