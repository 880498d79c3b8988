"""Opening the working DuckDB warehouse, and small query helpers shared by every module.

One writer process at a time may hold the file (DuckDB's rule), so every caller opens a
connection for the duration of one step and closes it, leaving the file free for dbt.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to ``path`` that is always closed, creating the folder when writing; the
    memory the step's data took is then given back (:func:`give_back_memory`)."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()
        give_back_memory()


def give_back_memory(collect: bool = False) -> None:
    """Return freed memory to the operating system.

    Every step runs in one long-lived process, and dbt's own process runs beside it. Arrow's
    allocator keeps freed buffers for reuse, and glibc keeps freed heap pages (columns of 4M
    customers are just at its mmap threshold); at 100M order lines that was 3-4 GB held by an
    idle process while dbt used its 8 GB.

    ``collect`` first runs Python's full collection: Great Expectations' objects hold validated
    frames in reference cycles that only it frees (at 100M, 3.5 GB the trim alone left resident
    beside dbt; bench/README.md, ninth pass). It costs about 0.25 s at 10M, so it is asked for
    only where another process is about to need the memory: before and after each dbt build.
    """
    if collect:
        gc.collect()
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None where the C library has none (macOS, musl)."""
    name = ctypes.util.find_library("c")
    library = ctypes.CDLL(name) if name else None
    return getattr(library, "malloc_trim", None)


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Any:
    """The single value of a query, with the result fully consumed (DuckDB 2 requires it)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def quote_identifier(identifier: str) -> str:
    """Any name read from a catalog or a suite, as a quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def q(identifier: str) -> str:
    """Quote an identifier that comes from the contract (never from data)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", identifier):
        raise ValueError(f"not a safe identifier: {identifier!r}")
    return f'"{identifier}"'
