"""Write formatted lines as daily drop files, with flat memory at any size.

Blocks of customers are formatted one at a time and *spilled* to Arrow IPC files, one per
(source, block), holding one record batch per bucket of days. The files of a bucket are then
read back from every block, sorted by (day, timestamp, identifier, sub-key) and cut into one file
per day. The output is therefore the same whatever the bucket size, and memory is bounded by
one block plus one bucket.
"""

from __future__ import annotations

import datetime as dt
import gzip
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from generator.dirt import inject
from generator.formatting import FORMATS, SPILL_SCHEMA
from orchestration.ingest.contract import SOURCES

GZIP_LEVEL = 6


class Spill:
    """Arrow IPC spill files: ``<root>/<source>/<block>.arrow``, one batch per day bucket."""

    def __init__(self, root: Path, bucket_days: int, n_buckets: int) -> None:
        self.root = root
        self.bucket_days = bucket_days
        self.n_buckets = n_buckets
        self.blocks = 0

    def add(self, block: int, source: str, table: pa.Table) -> None:
        self._write(self.root / source / f"{block:06d}.arrow", table)
        self.blocks = max(self.blocks, block + 1)

    def _write(self, path: Path, table: pa.Table) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        bucket = table.column("day").to_numpy() // self.bucket_days
        order = np.argsort(bucket, kind="stable")
        table = table.take(pa.array(order)).combine_chunks()
        bounds = np.searchsorted(bucket[order], np.arange(self.n_buckets + 1))
        with ipc.new_file(str(path), SPILL_SCHEMA) as writer:
            for b in range(self.n_buckets):
                part = table.slice(int(bounds[b]), int(bounds[b + 1] - bounds[b]))
                writer.write_batch(_one_batch(part))

    def bucket(self, source: str, b: int) -> pa.Table:
        """Every block's rows of one bucket, sorted into output order (one copy, read through
        memory maps)."""
        maps = [
            pa.memory_map(str(self.root / source / f"{block:06d}.arrow"))
            for block in range(self.blocks)
        ]
        try:
            batches = [ipc.open_file(m).get_batch(b) for m in maps]
            table = pa.Table.from_batches([x for x in batches if x.num_rows], SPILL_SCHEMA)
            keys = [table.column(k).to_numpy() for k in ("sub", "seq", "ts", "day")]
            return table.take(pa.array(np.lexsort(keys))).combine_chunks()
        finally:
            for m in maps:
                m.close()


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    if table.num_rows == 0:
        return pa.RecordBatch.from_pylist([], schema=SPILL_SCHEMA)
    return table.combine_chunks().to_batches()[0]


@dataclass
class DayWriter:
    """Writes the daily files of the text sources and keeps the tallies."""

    raw: Path
    start: dt.date
    end: dt.date
    seed: int
    dirt: bool
    dirt_rates: dict[str, float] = field(default_factory=dict)
    rows: Counter[str] = field(default_factory=Counter)
    dirty_rows: Counter[str] = field(default_factory=Counter)
    files: Counter[str] = field(default_factory=Counter)
    lines_written: int = 0
    dirt_log: list[tuple[str, str, str, int]] = field(default_factory=list)

    def write_bucket(self, source: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        day = table.column("day").to_numpy()
        lines = table.column("line").chunk(0)
        ok = table.column("ok").to_numpy(zero_copy_only=False)
        cuts = np.flatnonzero(np.diff(day)) + 1
        starts, stops = np.r_[0, cuts], np.r_[cuts, day.size]
        for lo, hi in zip(starts.tolist(), stops.tolist(), strict=True):
            self._write_day(source, int(day[lo]), lines, ok, lo, hi)

    def _write_day(
        self, source: str, day: int, lines: pa.Array, ok: np.ndarray, lo: int, hi: int
    ) -> None:
        suffix, delimiter = FORMATS[source]
        date = self.start + dt.timedelta(days=day)
        relative = f"{source}/{date.isoformat()}{suffix}"
        header = b"" if delimiter == "json" else _header(source, delimiter)
        if self.dirt:
            body = self._dirty_body(source, day, lines, ok, lo, hi, delimiter, relative)
        else:
            body = _line_bytes(lines, lo, hi)
        data = header + body
        if suffix.endswith(".gz"):
            data = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
        path = self.raw / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.rows[source] += hi - lo
        self.files[source] += 1
        self.lines_written += hi - lo

    def _dirty_body(
        self,
        source: str,
        day: int,
        lines: pa.Array,
        ok: np.ndarray,
        lo: int,
        hi: int,
        delimiter: str,
        relative: str,
    ) -> bytes:
        source_index = list(FORMATS).index(source)
        rng = np.random.default_rng(
            np.random.SeedSequence(self.seed, spawn_key=(2, source_index, day))
        )
        date = self.start + dt.timedelta(days=day)
        rate = self.dirt_rates.get(source, 0.0)
        inserts, counts = inject(
            rng, source, lambda i: lines[lo + i].as_py(), ok[lo:hi], delimiter, date, self.end, rate
        )
        for reason in sorted(counts):
            self.dirt_log.append((source, relative, reason, counts[reason]))
            self.dirty_rows[source] += counts[reason]
            self.lines_written += counts[reason]
        pieces, previous = [], lo
        for position, text in inserts:  # clean text between inserts comes straight from Arrow
            pieces += [_line_bytes(lines, previous, lo + position), text.encode()]
            previous = lo + position
        pieces.append(_line_bytes(lines, previous, hi))
        return b"".join(pieces)


def _header(source: str, delimiter: str) -> bytes:
    return (delimiter.join(SOURCES[source].column_names) + "\n").encode()


def _line_bytes(lines: pa.Array, lo: int, hi: int) -> bytes:
    """The text of lines [lo, hi) straight from the Arrow buffers (they are contiguous)."""
    offsets = np.frombuffer(lines.buffers()[1], np.int64)[lines.offset :]
    return memoryview(lines.buffers()[2])[offsets[lo] : offsets[hi]].tobytes()


def write_dirt_truth(path: Path, log: list[tuple[str, str, str, int]]) -> None:
    """``_truth/dirt.csv``: how many rows of each file ingestion must quarantine, and why."""
    order = list(FORMATS)
    rows = sorted(log, key=lambda r: (order.index(r[0]), r[1], r[2]))
    text = "source,file,reason,rows\n" + "".join(f"{s},{f},{r},{n}\n" for s, f, r, n in rows)
    path.write_text(text, encoding="utf-8")
