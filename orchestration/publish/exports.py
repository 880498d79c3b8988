"""Parquet and CSV per published table under ``exports/<D>/``, each file written under a
temporary name and renamed, so a reader of the folder sees an old or a new file, never half."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import duckdb

from orchestration.publish.file import literal, partial_path
from orchestration.publish.tables import PUBLICATION_TABLE
from orchestration.warehouse import q as quote

EXPORT_FORMATS = ("parquet", "csv")


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
                partial = partial_path(target)
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
