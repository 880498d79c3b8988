"""Great Expectations suites (``expectations/*.yml``) validated on frames read from DuckDB.

suites (the files, checked) -> frames (read through Arrow) -> gx (GE's context, run and Data
Docs) -> validate (one suite against the warehouse) -> results (what failed, as markdown). The
Dagster checks that run them are in ``orchestration/defs/quality.py``.
"""

from orchestration.quality.frames import FrameError, to_pandas
from orchestration.quality.gx import GxSession, check_with_gx
from orchestration.quality.results import SuiteResult, markdown_table, with_docs
from orchestration.quality.suites import (
    Suite,
    SuiteError,
    display_path,
    load_suite,
    load_suites,
    suite_files,
)
from orchestration.quality.validate import run_suite, run_suites, validate_frame

__all__ = [
    "FrameError",
    "GxSession",
    "Suite",
    "SuiteError",
    "SuiteResult",
    "check_with_gx",
    "display_path",
    "load_suite",
    "load_suites",
    "markdown_table",
    "run_suite",
    "run_suites",
    "suite_files",
    "to_pandas",
    "validate_frame",
    "with_docs",
]
