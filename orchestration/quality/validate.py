"""Validating a suite: read its frame from the warehouse, resolve its parameters, run it with
Great Expectations, and keep what a person needs to act on a failure."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from orchestration.quality.frames import read_frame
from orchestration.quality.gx import data_docs_index, run_gx
from orchestration.quality.results import Outcome, Skipped, SuiteResult, outcome_of
from orchestration.quality.suites import Suite, resolve_parameters
from orchestration.segments import schemes


def run_suite(
    suite: Suite,
    con: duckdb.DuckDBPyConnection,
    *,
    asset: tuple[str, ...] | None = None,
    docs_root: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    run_name: str | None = None,
    seed: Path = schemes.SEED,
) -> SuiteResult:
    """Read the suite's frame from the warehouse and validate it (see ``validate_frame``)."""
    asset = asset or suite.assets[0]
    started = time.perf_counter()
    frame = read_frame(con, suite, asset)
    result = validate_frame(
        frame, suite, asset=asset, docs_root=docs_root, overrides=overrides, run_name=run_name,
        seed=seed,
    )  # fmt: skip
    return replace(result, seconds=time.perf_counter() - started)


def validate_frame(
    frame: pd.DataFrame,
    suite: Suite,
    *,
    asset: tuple[str, ...] | None = None,
    docs_root: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    run_name: str | None = None,
    seed: Path = schemes.SEED,
) -> SuiteResult:
    """Validate a frame with GE. With ``docs_root`` the result is stored in the file-backed GE
    project there and its Data Docs page is written; without, nothing touches the disk."""
    asset = asset or suite.assets[0]
    started = time.perf_counter()
    parameters, skip = resolve_parameters(suite, overrides, seed)
    gx_name = suite.gx_name(asset)
    skipped = tuple(
        Skipped(e.index, e.type, e.label, skip[e.index])
        for e in suite.expectations
        if e.index in skip
    )
    docs_page = docs_error = None
    if len(skip) == len(suite.expectations):
        outcomes: tuple[Outcome, ...] = ()
    else:
        results, docs_page, docs_error = run_gx(
            frame, suite, gx_name, asset, skip, parameters, docs_root, run_name
        )
        outcomes = tuple(sorted((outcome_of(suite, r) for r in results), key=lambda o: o.index))
    return SuiteResult(
        suite=gx_name,
        asset="/".join(asset),
        blocking=suite.blocking,
        rows=len(frame),
        outcomes=outcomes,
        skipped=skipped,
        data_docs=docs_page,
        data_docs_index=data_docs_index(docs_root) if docs_root else None,
        docs_error=docs_error,
        seconds=time.perf_counter() - started,
    )
