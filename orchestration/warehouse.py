"""Opening the working DuckDB warehouse, and small query helpers shared by every module.

One writer process at a time may hold the file (DuckDB's rule), so every caller opens a
connection for the duration of one step and closes it, leaving the file free for dbt.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to ``path`` that is always closed, creating the folder when writing."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Any:
    """The single value of a query, with the result fully consumed (DuckDB 2 requires it)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def quote_identifier(identifier: str) -> str:
    """Any name read from a catalog or a suite, as a quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'
