"""Importing a user's export: placing its files as raw drops under a mapping (bring your own data).

A file with a date in its name becomes that day's drop; any other file is history (an export of
months or years), visible row by row from its own event dates. The mapping is copied into the
home, and from then on every ingest reads the mapped sources through it.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb

from orchestration.ingest.contract import HISTORY_DIR, SOURCES
from orchestration.ingest.lookups import LOOKUP_DIR, lookup_files
from orchestration.ingest.mapping import (
    Mapping,
    MappingError,
    SourceMapping,
    load,
    read_source_file,
)
from orchestration.ingest.readers import FileRead

MAPPING_FILE = "mapping.yaml"  # the active mapping of a home, read by the ingest assets


def active_mapping(home: Path) -> Mapping | None:
    path = home / MAPPING_FILE
    return load(path) if path.exists() else None


def input_files(spec: SourceMapping, input_path: Path) -> list[Path]:
    if input_path.is_file():
        return [input_path]
    if input_path.is_dir():
        return sorted(p for p in input_path.glob(spec.files) if p.is_file())
    raise MappingError(f"{input_path}: no such file or folder")


def scan(spec: SourceMapping, path: Path) -> tuple[dt.date | None, set[str]]:
    """The latest event date of a file (None for a source without event times, such as
    products) and the product ids it mentions."""
    event = SOURCES[spec.source].event_time
    latest: dt.date | None = None
    example: tuple[int, str] | None = None  # a value that is not a date, for the error
    products: set[str] = set()
    mapping = Mapping("scan", path, "", {spec.source: spec})
    con = duckdb.connect()
    for batch in read_source_file(SOURCES[spec.source], path, FileRead(path), mapping):
        con.register("_batch", batch)
        if event:
            day = con.execute(f"select max(try_cast(trim({event}) as timestamp))::DATE from _batch")
            found = day.fetchall()[0][0]
            latest = max(latest, found) if latest and found else (found or latest)
            if found is None and example is None:
                example = next(
                    iter(
                        con.execute(
                            f"select _row_number, {event} from _batch "
                            f"where nullif(trim({event}), '') is not null limit 1"
                        ).fetchall()
                    ),
                    None,
                )
        if "product_id" in batch.schema.names:
            rows = con.execute("select distinct trim(product_id) from _batch").fetchall()
            products.update(r[0] for r in rows if r[0])
        con.unregister("_batch")
    con.close()
    if event and latest is None:
        why = (
            f"e.g. line {example[0]}: {example[1]!r}; a mapping reads other formats with "
            f"date_formats.{event}"
            if example
            else f"every {event} is empty"
        )
        raise MappingError(f"{path}: no parseable {event} to date the drop by ({why})")
    return latest, products


def lookup_inputs(spec: SourceMapping, path: Path) -> dict[str, list[Path]]:
    """The files each lookup of a source reads for one of its input files."""
    return {name: lookup_files(lookup, path) for name, lookup in spec.lookups.items()}


def unmatched_inputs(mapping: Mapping, input_path: Path) -> list[Path]:
    """The files of an input folder that no mapped source or lookup reads (reported, never
    silent)."""
    if not input_path.is_dir():
        return []
    read = set()
    for spec in mapping.sources.values():
        for path in input_files(spec, input_path):
            read.add(path)
            for files in lookup_inputs(spec, path).values():
                read.update(files)
    return sorted(p for p in input_path.iterdir() if p.is_file() and p not in read)


def import_input(mapping: Mapping, input_path: Path, raw_dir: Path) -> list[Path]:
    """Place the user's files as raw drops and make the mapping the home's active one.

    A file with a date in its name is that day's drop. Any other file is an export of history:
    it goes to ``<source>/history/<its latest event date>/``, and each row becomes visible on
    its own event date, so every as-of date inside the export sees exactly the events up to it
    (``loader.py``). The files a source's lookups read go beside each of its files, in
    ``_lookup/<lookup name>/`` (``lookups.py``). Where the mapping marks products as
    non-merchandise and no products source is mapped, a products drop listing every product id
    of the input with its ``is_merchandise`` flag is written beside it.
    """
    scanned: list[tuple[SourceMapping, Path, dt.date | None, bool, set[str]]] = []
    for spec in mapping.sources.values():
        files = input_files(spec, input_path)
        if not files:
            raise MappingError(f"{input_path}: no files match '{spec.files}' for {spec.source}")
        for path in files:
            named = re.findall(r"\d{4}-\d{2}-\d{2}", path.name)
            latest, products = scan(spec, path)
            drop = dt.date.fromisoformat(named[-1]) if named else latest
            scanned.append((spec, path, drop, not named, products))
    dated = [drop for *_, drop, _, _ in scanned if drop is not None]
    if not dated:
        raise MappingError(f"{input_path}: no file with event dates to date the import by")
    placed: list[Path] = []
    for spec, path, drop, history, products in scanned:
        drop = drop or max(dated)  # a file without event times goes with the newest
        kind = [HISTORY_DIR] if history else []
        target = raw_dir.joinpath(spec.source, *kind, drop.isoformat(), path.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        placed.append(target)
        for name, files in lookup_inputs(spec, path).items():
            folder = target.parent / LOOKUP_DIR / name  # the drop carries its lookups
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            for lookup_file in files:
                shutil.copyfile(lookup_file, folder / lookup_file.name)
        derives = spec.rules.get("non_merchandise_products") or spec.rules.get(
            "non_merchandise_pattern"
        )
        if spec.source == "orders" and derives and "products" not in mapping.sources:
            products_dir = raw_dir.joinpath("products", *kind)
            placed.append(_write_products(spec, products, products_dir, drop, path.stem))
    shutil.copyfile(mapping.path, raw_dir.parent / MAPPING_FILE)
    return placed


def _write_products(
    spec: SourceMapping, products: set[str], folder: Path, drop: dt.date, stem: str
) -> Path:
    """The derived products drop, in the orders file's kind of folder (daily or history)."""
    target = folder / drop.isoformat() / f"derived-from-{stem}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "is_merchandise"])
        for product in sorted(products):
            writer.writerow([product, "true" if spec.is_merchandise(product) else "false"])
    return target
