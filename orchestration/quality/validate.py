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

from orchestration.quality.frames import FrameError, read_frame
from orchestration.quality.gx import GxSession
from orchestration.quality.results import Outcome, Skipped, SuiteResult, outcome_of, with_docs
from orchestration.quality.suites import Suite, SuiteError, resolve_parameters
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
    """Read the suite's frame from the warehouse and validate it (see ``validate_frame``);
    raises :class:`FrameError` when the frame cannot be read."""
    asset = asset or suite.assets[0]
    frame = read_frame(con, suite, asset)
    return validate_frame(
        frame, suite, asset=asset, docs_root=docs_root, overrides=overrides, run_name=run_name,
        seed=seed,
    )  # fmt: skip


def run_suites(
    pairs: list[tuple[Suite, tuple[str, ...]]],
    con: duckdb.DuckDBPyConnection,
    *,
    session: GxSession,
    overrides: Mapping[str, Any] | None = None,
    seed: Path = schemes.SEED,
) -> list[SuiteResult]:
    """Validate several (suite, asset) pairs in one GE session (Data Docs are the caller's:
    ``session.build_docs``). A suite whose frame cannot be read, or that GE refuses, gets a
    result with its ``error``; the others are validated."""
    results: list[SuiteResult] = []
    for suite, asset in pairs:
        started = time.perf_counter()
        try:
            frame = read_frame(con, suite, asset)
            result = validate_frame(
                frame, suite, asset=asset, overrides=overrides, seed=seed, session=session
            )
        except (FrameError, SuiteError) as error:
            result = SuiteResult(
                suite=suite.gx_name(asset),
                asset="/".join(asset),
                blocking=suite.blocking,
                rows=0,
                outcomes=(),
                error=str(error),
            )
        frame = None  # validated: freed before the next one is read
        results.append(replace(result, seconds=time.perf_counter() - started))
    return results


def validate_frame(
    frame: pd.DataFrame,
    suite: Suite,
    *,
    asset: tuple[str, ...] | None = None,
    docs_root: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    run_name: str | None = None,
    seed: Path = schemes.SEED,
    session: GxSession | None = None,
) -> SuiteResult:
    """Validate a frame with GE, in ``session`` or in a session of its own. With ``docs_root``
    (its own session) the result is stored in the file-backed GE project there and its Data Docs
    page is written; without, nothing touches the disk."""
    if session is None:
        with GxSession(docs_root, run_name) as own:
            result = validate_frame(
                frame, suite, asset=asset, overrides=overrides, seed=seed, session=own
            )
            pages, docs_error = own.build_docs()
        return with_docs(result, pages, docs_root, docs_error)
    asset = asset or suite.assets[0]
    started = time.perf_counter()
    parameters, skip = resolve_parameters(suite, overrides, seed)
    gx_name = suite.gx_name(asset)
    skipped = tuple(
        Skipped(e.index, e.type, e.label, skip[e.index])
        for e in suite.expectations
        if e.index in skip
    )
    outcomes: tuple[Outcome, ...] = ()
    if len(skip) < len(suite.expectations):
        results = session.validate(frame, suite, gx_name, asset, skip, parameters)
        outcomes = tuple(sorted((outcome_of(suite, r) for r in results), key=lambda o: o.index))
    return SuiteResult(
        suite=gx_name,
        asset="/".join(asset),
        blocking=suite.blocking,
        rows=len(frame),
        outcomes=outcomes,
        skipped=skipped,
        seconds=time.perf_counter() - started,
    )
