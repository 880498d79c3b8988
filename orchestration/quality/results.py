"""What a validation found, per expectation and per suite, and its markdown for the Dagster UI."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from orchestration.quality.suites import Suite

SAMPLES = 5


@dataclass(frozen=True)
class Outcome:
    """One expectation's result, with what a person needs to act."""

    index: int
    type: str
    where: str
    severity: str
    success: bool
    unexpected_count: int | None = None
    element_count: int | None = None
    observed_value: Any = None
    samples: tuple[Any, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Skipped:
    index: int
    type: str
    where: str
    reason: str


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    asset: str
    blocking: bool
    rows: int
    outcomes: tuple[Outcome, ...]
    skipped: tuple[Skipped, ...] = ()
    data_docs: Path | None = None
    data_docs_index: Path | None = None
    docs_error: str | None = None
    seconds: float = 0.0
    # The suite could not be validated (its frame not read, GE refused it): a failure.
    error: str | None = None

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def success(self) -> bool:
        return not self.failed and self.error is None

    def problems(self) -> list[str]:
        """One line per failed expectation (or the error), for the run's log."""
        if self.error:
            return [f"{self.suite}: {self.error}"]
        return [
            f"{self.suite}: {o.type} on {o.where} failed ({o.unexpected_count} unexpected) "
            f"e.g. {list(o.samples)[:3]}"
            for o in self.failed
        ]

    @property
    def critical_failures(self) -> list[Outcome]:
        return [o for o in self.failed if o.severity == "critical"]

    @property
    def passed_blocking(self) -> bool:
        """No critical expectation failed: what decides whether publication may go on."""
        return not self.critical_failures and self.error is None

    def outcome(self, expectation_type: str, where: str | None = None) -> Outcome:
        """The outcome of an expectation by type (and column), for tests and callers."""
        for o in self.outcomes:
            if o.type == expectation_type and (where is None or o.where == where):
                return o
        raise KeyError(f"{self.suite}: no outcome for {expectation_type} on {where}")


def outcome_of(suite: Suite, result: Any) -> Outcome:
    config = result.expectation_config
    index = int((config.meta or {}).get("clientele_index", -1))
    declared = suite.expectations[index] if 0 <= index < len(suite.expectations) else None
    detail = result.result or {}
    samples = detail.get("partial_unexpected_index_list") or detail.get("partial_unexpected_list")
    return Outcome(
        index=index,
        type=config.type,
        where=declared.label if declared else str(config.kwargs.get("column", "(table)")),
        severity=declared.severity if declared else "critical",
        success=bool(result.success),
        unexpected_count=_int(detail.get("unexpected_count")),
        element_count=_int(detail.get("element_count")),
        observed_value=plain(detail.get("observed_value")),
        samples=tuple(plain(s) for s in (samples or [])[:SAMPLES]),
        error=_exception(result.exception_info),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _exception(info: Any) -> str | None:
    """GE reports exceptions either flat or keyed by metric; keep the first message."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    for value in info.values():
        message = _exception(value)
        if message:
            return message
    return None


def plain(value: Any) -> Any:
    """A JSON-safe version of a value GE returns (numpy scalars, NaN, pd.NA, timestamps)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float | str | bool):
        return value
    return str(value)


def markdown_table(result: SuiteResult, *, failed_only: bool = False) -> str:
    """The outcomes as a Markdown table (Dagster metadata, reports)."""
    rows: Iterable[Outcome] = result.failed if failed_only else result.outcomes
    lines = [
        "| expectation | on | severity | result | unexpected | of | samples |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in sorted(rows, key=lambda o: (o.success, o.index)):
        status = "passed" if o.success else ("ERROR: " + o.error if o.error else "FAILED")
        unexpected = "" if o.unexpected_count is None else f"{o.unexpected_count:,}"
        of = "" if o.element_count is None else f"{o.element_count:,}"
        if o.unexpected_count is None and o.observed_value is not None:
            unexpected = f"observed {json.dumps(o.observed_value)}"
        samples = "; ".join(json.dumps(s, default=str) for s in o.samples) if not o.success else ""
        cells = [o.type, o.where, o.severity, status, unexpected, of, samples]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    for s in result.skipped:
        lines.append(
            "| "
            + " | ".join(
                _cell(c) for c in [s.type, s.where, "", "skipped: " + s.reason, "", "", ""]
            )
            + " |"
        )
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")[:300]


def with_docs(
    result: SuiteResult, pages: dict[str, Path], docs_root: Path | None, docs_error: str | None
) -> SuiteResult:
    """The result with its Data Docs page (when built) and the site's index."""
    index = docs_root / "site" / "index.html" if docs_root else None
    return replace(
        result, data_docs=pages.get(result.suite), data_docs_index=index, docs_error=docs_error
    )
