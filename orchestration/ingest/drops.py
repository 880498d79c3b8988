"""Finding drops: the files of one source dated one day, and history files.

A drop's date is the last ``YYYY-MM-DD`` in its path below the source folder
(``orders/2026-11-22.csv``, ``orders/date=2026-11-22/part-0.parquet``). Files below
``<source>/history/`` are history (an imported export): loaded by every run, each row visible
from its own event date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from orchestration.ingest.contract import HISTORY_DIR
from orchestration.ingest.lookups import LOOKUP_DIR
from orchestration.ingest.readers import IngestError, file_format

DATE_IN_PATH = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def drop_date_of(path: Path, source_dir: Path) -> dt.date:
    """The drop date written in a file's path below its source folder (last date wins)."""
    matches = DATE_IN_PATH.findall(str(path.relative_to(source_dir)))
    if not matches:
        raise IngestError(f"{path}: no drop date (YYYY-MM-DD) in the file or folder name")
    year, month, day = matches[-1]
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError as exc:
        raise IngestError(f"{path}: invalid drop date in the name ({exc})") from exc


def is_history(path: Path, source_dir: Path) -> bool:
    """A history file: below ``<source>/history/``, its rows visible on their event date."""
    return path.relative_to(source_dir).parts[0] == HISTORY_DIR


def find_drops(source_dir: Path) -> dict[dt.date, list[Path]]:
    """Every data file below a source folder, grouped by drop date (hidden files ignored)."""
    drops: dict[dt.date, list[Path]] = {}
    if not source_dir.is_dir():
        return drops
    for path in sorted(source_dir.rglob("*")):
        relative = path.relative_to(source_dir)
        if path.is_dir() or any(part.startswith((".", "_")) for part in relative.parts):
            continue
        file_format(path)  # unsupported files are an error, not silently skipped
        drops.setdefault(drop_date_of(path, source_dir), []).append(path)
    return drops


def fingerprint(files: Iterable[Path]) -> str:
    """Changes whenever a file of the drop, or a lookup file beside one (a mapping's
    ``_lookup/<name>/``), is added, removed, rewritten or touched."""
    digest = hashlib.sha256()
    files = sorted(files)
    for path in files:
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    for folder in sorted({path.parent / LOOKUP_DIR for path in files}):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else ():
            stat = path.stat()
            name = path.relative_to(folder).as_posix()
            digest.update(f"lookup {name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
