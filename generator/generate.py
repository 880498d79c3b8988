"""Seeded synthetic raw data (SPEC §11): daily drops of every source, planted archetypes with a
ground-truth label file, and optional injected dirt.

    generate(paths, customers=300, seed=7)          # ~3 years ending yesterday (UTC)

Same arguments give byte-identical files: every random draw comes from numpy Generators seeded
from ``seed`` (one stream for the catalogue, one per block of customers, one per dirty file),
identifiers are running numbers, rows are written in a total order, gzip headers carry no time.

Layout under ``paths.raw`` (the generator owns it and replaces it as a whole):
``orders/<day>.csv``, ``customers/<day>.csv``, ``products/<first day>.parquet``,
``tickets/<day>.jsonl``, ``surveys/<day>.csv.gz`` (``;``-delimited), ``customer_tags/<day>.csv``,
``contacts/<day>.csv`` (the people at business accounts), ``_truth/customers.csv``,
``_truth/contacts.csv`` (each contact's planted buying-centre role) and, with dirt,
``_truth/dirt.csv``.

Scale: customers are simulated in blocks of ``BLOCK_CUSTOMERS`` and spilled to disk, so memory
stays flat from hundreds of customers to tens of millions of order lines (see generate_write).
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from generator.archetypes import profile_table
from generator.catalogue import Catalogue, build_catalogue, products_table
from generator.dirt import base_rate
from generator.formatting import (
    CONTACTS_TRUTH_HEADER,
    TEXT_SOURCES,
    TRUTH_HEADER,
    Offsets,
    format_block,
)
from generator.simulate import simulate_block
from generator.write import DayWriter, Spill, write_dirt_truth
from orchestration.ingest.contract import SOURCES
from orchestration.settings import Paths

# Customers simulated together. Part of the seed's meaning: changing it changes the data.
BLOCK_CUSTOMERS = 10_000
# Rows per spill bucket (bounds memory when files are assembled; does not change the output).
BUCKET_ROWS = 500_000
EXPECTED_LINES_PER_CUSTOMER = 25


@dataclass(frozen=True)
class GenerateSummary:
    """What a generation wrote."""

    raw_dir: Path
    seed: int
    customers: int
    start: dt.date
    end: dt.date
    rows: dict[str, int]  # clean rows per source
    dirty_rows: dict[str, int]  # injected dirty rows per source
    files: dict[str, int]  # files written per source
    lines_written: int  # data lines in all source files (clean and dirty, no headers)
    archetypes: dict[str, int]

    @property
    def files_written(self) -> int:
        return sum(self.files.values())

    def __str__(self) -> str:
        per_source = ", ".join(
            f"{s} {self.rows[s]:,}"
            + (f" (+{self.dirty_rows[s]:,} dirty)" if self.dirty_rows[s] else "")
            for s in self.rows
        )
        planted = ", ".join(f"{k} {v:,}" for k, v in self.archetypes.items() if v)
        return (
            f"generated {self.customers:,} customers (seed {self.seed}) "
            f"from {self.start} to {self.end}\n"
            f"rows: {per_source}\n"
            f"{self.files_written:,} files, {self.lines_written:,} lines\n"
            f"archetypes: {planted}"
        )


def default_end() -> dt.date:
    """Yesterday in UTC: the default last day of data, like the nightly as-of date."""
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


def generate(
    paths: Paths,
    customers: int,
    seed: int,
    days: int = 1095,
    end: dt.date | None = None,
    dirt: bool = False,
) -> GenerateSummary:
    """Write ``days`` days of raw drops ending on ``end`` (default yesterday, UTC) for
    ``customers`` customers, replacing everything under ``paths.raw``."""
    if customers < 1 or days < 1 or seed < 0:
        raise ValueError("customers and days must be positive and seed non-negative")
    end = end or default_end()
    start = end - dt.timedelta(days=days - 1)
    paths.home.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".generate-", dir=paths.home))
    try:
        raw = work / "raw"
        summary = _generate_into(raw, work / "spill", customers, seed, start, end, dirt)
        _replace(raw, paths.raw, work / "previous")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return GenerateSummary(raw_dir=paths.raw, **summary)


def _generate_into(
    raw: Path,
    spill_dir: Path,
    customers: int,
    seed: int,
    start: dt.date,
    end: dt.date,
    dirt: bool,
) -> dict:
    days = (end - start).days + 1
    epoch = calendar.timegm(start.timetuple())
    catalogue = build_catalogue(_rng(seed, 0))
    bucket_days = _bucket_days(customers, days)
    spill = Spill(spill_dir, bucket_days, -(-days // bucket_days))
    (raw / "_truth").mkdir(parents=True)
    archetypes, rows, eligible = _simulate_all(raw, spill, catalogue, customers, seed, days, epoch)
    rates = {s: base_rate(rows[s], eligible[s]) for s in TEXT_SOURCES}
    writer = DayWriter(raw, start, end, seed, dirt, rates)
    for source in TEXT_SOURCES:
        for b in range(spill.n_buckets):
            writer.write_bucket(source, spill.bucket(source, b))
    if dirt:
        write_dirt_truth(raw / "_truth" / "dirt.csv", writer.dirt_log)
    n_products = _write_products(raw, catalogue, start)
    order = list(SOURCES)
    return {
        "seed": seed,
        "customers": customers,
        "start": start,
        "end": end,
        "rows": {s: n_products if s == "products" else writer.rows[s] for s in order},
        "dirty_rows": {s: writer.dirty_rows[s] for s in order},
        "files": {s: 1 if s == "products" else writer.files[s] for s in order},
        "lines_written": writer.lines_written + n_products,
        "archetypes": dict(archetypes),
    }


def _simulate_all(
    raw: Path,
    spill: Spill,
    catalogue: Catalogue,
    customers: int,
    seed: int,
    days: int,
    epoch: int,
) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Simulate and format every block, spill its lines and append its truth rows.
    Returns the counts of archetypes, rows and dirt-eligible rows."""
    table = profile_table()
    offsets = Offsets()
    archetypes: Counter[str] = Counter()
    rows: Counter[str] = Counter()
    eligible: Counter[str] = Counter()
    with (
        open(raw / "_truth" / "customers.csv", "w", encoding="utf-8", newline="") as truth,
        open(raw / "_truth" / "contacts.csv", "w", encoding="utf-8", newline="") as people,
    ):
        truth.write(",".join(TRUTH_HEADER) + "\n")
        people.write(",".join(CONTACTS_TRUTH_HEADER) + "\n")
        for block, first in enumerate(range(0, customers, BLOCK_CUSTOMERS)):
            n = min(BLOCK_CUSTOMERS, customers - first)
            simulated = simulate_block(_rng(seed, 1, block), n, days, catalogue, table)
            formatted = format_block(
                simulated, offsets, epoch, catalogue, functools.partial(spill.add, block)
            )
            truth.write(formatted.truth)
            people.write(formatted.contacts_truth)
            archetypes.update(formatted.archetypes)
            rows.update(formatted.counts)
            eligible.update(formatted.eligible)
    return archetypes, rows, eligible


def _write_products(raw: Path, catalogue: Catalogue, start: dt.date) -> int:
    """The catalogue as one Parquet drop on the first day."""
    table = products_table(catalogue)
    path = raw / "products" / f"{start.isoformat()}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return table.num_rows


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=stream))


def _bucket_days(customers: int, days: int) -> int:
    """Days per spill bucket so that a bucket holds about BUCKET_ROWS order lines."""
    per_day = customers * EXPECTED_LINES_PER_CUSTOMER / days
    return int(max(1, min(days, BUCKET_ROWS // max(per_day, 1))))


def _replace(new: Path, target: Path, trash: Path) -> None:
    """Swap the new raw folder in place of the old one (renames on the same file system)."""
    if target.exists():
        target.rename(trash)
    target.parent.mkdir(parents=True, exist_ok=True)
    new.rename(target)
