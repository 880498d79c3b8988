"""Giving the memory a step has freed back to the operating system.

A night runs in two processes side by side: the run's own (ingest, Great Expectations, the CLV
fit, the publication) and its dbt worker. A step's frames outlive it where Great Expectations'
objects hold them in reference cycles (freed at Python's next full collection, which may be
hours away), and glibc's malloc and Arrow's memory pool keep freed pages for reuse: at 100M order
lines the run's process still held 3.5-6 GB while the worker built the models beside it, and the
worker kept its 6-7 GB while the checks and the publication ran after it (bench/README.md,
ninth pass). Each process calls this where the other is about to need memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys


def release_free_memory() -> None:
    """Collect unreachable objects, then return freed heap pages to the operating system
    (glibc's ``malloc_trim``; Arrow's ``release_unused``). Nothing in use is touched; without
    glibc or a loaded pyarrow those parts do nothing."""
    gc.collect()
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _malloc_trim():
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    return getattr(ctypes.CDLL(name), "malloc_trim", None)
