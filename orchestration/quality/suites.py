"""Suite files under ``expectations/`` (one per validated table, editable without Python):
parsed and checked, every error naming the file and the key, and their parameters resolved
from dbt vars, suite defaults and the segment_labels seed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestration.config import product_vars
from orchestration.segments import schemes
from orchestration.settings import EXPECTATIONS_DIR

SUITE_SUFFIXES = (".yml", ".yaml", ".json")


SUITE_KEYS = {
    "suite", "description", "asset", "assets", "severity", "table", "query", "row_id",
    "parameters", "expectations",
}  # fmt: skip


EXPECTATION_KEYS = {"type", "kwargs", "meta", "notes", "description", "severity"}


# Suite severity -> (blocking check, default GE FailureSeverity of its expectations).
SEVERITIES = {"error": (True, "critical"), "warn": (False, "warning")}


EXPECTATION_SEVERITIES = ("critical", "warning", "info")


# Named parameters a suite query may use, bound by DuckDB (never formatted into the SQL).
QUERY_PARAMETERS = ("asset_name",)


# ``{"$PARAMETER": "labels_<scheme>"}``: the allowed labels of a scheme in the seed below.
LABEL_PREFIX = "labels_"


IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


EXPECTATION_TYPE = re.compile(r"^expect_[a-z0-9_]+$")


QUERY_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


COLUMN_KWARGS = ("column", "column_A", "column_B")


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file and the key at fault."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path, self.key, self.problem = Path(path), key, problem
        super().__init__(f"{display_path(self.path)}: {key}: {problem}")


@dataclass(frozen=True)
class Expectation:
    """One GE expectation as declared: GE's own ``type``/``kwargs`` form plus optional fields."""

    index: int
    type: str
    kwargs: dict[str, Any]
    severity: str
    meta: dict[str, Any] = field(default_factory=dict)
    notes: str | list[str] | None = None
    description: str | None = None

    @property
    def parameters(self) -> list[str]:
        """Names used as ``{"$PARAMETER": name}`` in the kwargs."""
        return sorted(set(_parameter_names(self.kwargs)))

    @property
    def columns(self) -> list[str]:
        found = [self.kwargs[k] for k in COLUMN_KWARGS if isinstance(self.kwargs.get(k), str)]
        found += [c for c in self.kwargs.get("column_list") or [] if isinstance(c, str)]
        return found

    @property
    def label(self) -> str:
        """Where the expectation looks, for people: the column(s) or the table."""
        kw = self.kwargs
        if "column_A" in kw and "column_B" in kw:
            return f"{kw['column_A']} vs {kw['column_B']}"
        if "column_list" in kw:
            return ", ".join(map(str, kw["column_list"]))
        return str(kw.get("column", "(table)"))


@dataclass(frozen=True)
class Suite:
    """A parsed suite file."""

    name: str
    path: Path
    assets: tuple[tuple[str, ...], ...]
    blocking: bool
    expectations: tuple[Expectation, ...]
    description: str = ""
    query: str | None = None
    table: str | None = None
    row_id: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return "error" if self.blocking else "warn"

    @property
    def query_parameters(self) -> list[str]:
        return sorted(set(QUERY_PARAMETER.findall(self.query or "")))

    def table_for(self, asset: tuple[str, ...]) -> str:
        """``schema.table`` read when there is no query: ``table`` or the asset key."""
        if self.table:
            return self.table
        return ".".join(asset if len(asset) > 1 else ("main", *asset))

    def gx_name(self, asset: tuple[str, ...]) -> str:
        """The GE suite name: the suite's, plus the asset when it validates several."""
        return self.name if len(self.assets) == 1 else f"{self.name}.{asset[-1]}"


def load_suites(directory: Path = EXPECTATIONS_DIR) -> list[Suite]:
    """Every suite file of ``directory``, sorted by name; names must be unique."""
    suites = [load_suite(p) for p in suite_files(directory)]
    seen: dict[str, Path] = {}
    for suite in suites:
        if suite.name in seen:
            raise SuiteError(
                suite.path, "suite", f"name {suite.name!r} also used by {seen[suite.name].name}"
            )
        seen[suite.name] = suite.path
    return suites


def suite_files(directory: Path = EXPECTATIONS_DIR) -> list[Path]:
    return sorted(
        p for p in Path(directory).iterdir() if p.suffix in SUITE_SUFFIXES and p.is_file()
    )


def load_suite(path: Path | str) -> Suite:
    """Parse and check one suite file, without importing GE (fast enough for definitions)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SuiteError(path, "(file)", f"cannot be read: {exc}") from exc
    if not isinstance(raw, dict):
        raise SuiteError(path, "(file)", "must be a mapping with at least asset and expectations")
    unknown = sorted(set(raw) - SUITE_KEYS)
    if unknown:
        raise SuiteError(path, unknown[0], f"unknown key; allowed: {', '.join(sorted(SUITE_KEYS))}")

    name = raw.get("suite", path.stem)
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise SuiteError(path, "suite", f"{name!r} must be a name of letters, digits and _")
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        raise SuiteError(path, "severity", f"{severity!r} must be one of {', '.join(SEVERITIES)}")
    blocking, default_severity = SEVERITIES[severity]

    if ("asset" in raw) == ("assets" in raw):
        raise SuiteError(path, "asset", "give exactly one of asset (one key) or assets (a list)")
    if "asset" in raw:
        assets = (_asset_key(path, "asset", raw["asset"]),)
    else:
        if not isinstance(raw["assets"], list) or not raw["assets"]:
            raise SuiteError(path, "assets", "must be a non-empty list of asset keys")
        assets = tuple(_asset_key(path, f"assets[{i}]", a) for i, a in enumerate(raw["assets"]))

    query = raw.get("query")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise SuiteError(path, "query", "must be a SQL select statement (text)")
    for used in sorted(set(QUERY_PARAMETER.findall(query or ""))):
        if used not in QUERY_PARAMETERS:
            raise SuiteError(
                path, "query", f"${used} is not bound; available: ${QUERY_PARAMETERS[0]}"
            )
    table = raw.get("table")
    if table is not None:
        if query is not None:
            raise SuiteError(path, "table", "give table or query, not both")
        parts = table.split(".") if isinstance(table, str) else []
        if len(parts) != 2 or not all(IDENTIFIER.match(p) for p in parts):
            raise SuiteError(path, "table", f"{table!r} must be schema.table")

    row_id = raw.get("row_id", [])
    row_id = [row_id] if isinstance(row_id, str) else row_id
    if not isinstance(row_id, list) or not all(isinstance(c, str) for c in row_id):
        raise SuiteError(path, "row_id", "must be a column name or a list of column names")

    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict) or not all(IDENTIFIER.match(str(k)) for k in parameters):
        raise SuiteError(path, "parameters", "must map parameter names to values")

    entries = raw.get("expectations")
    if not isinstance(entries, list) or not entries:
        raise SuiteError(path, "expectations", "must be a non-empty list")
    known = set(parameters) | set(product_vars())
    expectations = tuple(
        _expectation(path, i, entry, default_severity, known) for i, entry in enumerate(entries)
    )
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise SuiteError(path, "description", "must be text")
    return Suite(
        name=name,
        path=path,
        assets=assets,
        blocking=blocking,
        expectations=expectations,
        description=description.strip(),
        query=query,
        table=table,
        row_id=tuple(row_id),
        parameters=dict(parameters),
    )


def _asset_key(path: Path, key: str, value: Any) -> tuple[str, ...]:
    parts = value.split("/") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple) or not parts:
        raise SuiteError(path, key, f"{value!r} must be an asset key like main/customer_facts")
    if not all(isinstance(p, str) and IDENTIFIER.match(p) for p in parts):
        raise SuiteError(path, key, f"{value!r}: each part must be letters, digits and _")
    return tuple(parts)


def _expectation(
    path: Path, index: int, entry: Any, default_severity: str, known: set
) -> Expectation:
    where = f"expectations[{index}]"
    if not isinstance(entry, dict):
        raise SuiteError(path, where, "must be a mapping with type and kwargs")
    unknown = sorted(set(entry) - EXPECTATION_KEYS)
    if unknown:
        raise SuiteError(
            path,
            f"{where}.{unknown[0]}",
            "unknown key; allowed: " + ", ".join(sorted(EXPECTATION_KEYS)),
        )
    kind = entry.get("type")
    if not isinstance(kind, str) or not EXPECTATION_TYPE.match(kind):
        raise SuiteError(path, f"{where}.type", f"{kind!r} is not an expectation type (expect_...)")
    kwargs = entry.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise SuiteError(path, f"{where}.kwargs", "must be a mapping of arguments")
    severity = entry.get("severity", default_severity)
    if severity not in EXPECTATION_SEVERITIES:
        raise SuiteError(
            path,
            f"{where}.severity",
            f"{severity!r} must be one of {', '.join(EXPECTATION_SEVERITIES)}",
        )
    meta = entry.get("meta") or {}
    if not isinstance(meta, dict):
        raise SuiteError(path, f"{where}.meta", "must be a mapping")
    expectation = Expectation(
        index=index,
        type=kind,
        kwargs=dict(kwargs),
        severity=severity,
        meta=dict(meta),
        notes=entry.get("notes"),
        description=entry.get("description"),
    )
    for name in expectation.parameters:
        if name not in known and not name.startswith(LABEL_PREFIX):
            raise SuiteError(
                path,
                f"{where}.kwargs",
                f"$PARAMETER {name!r} is neither in the suite's parameters nor a dbt var "
                f"nor {LABEL_PREFIX}<scheme>",
            )
    return expectation


def _parameter_names(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            yield str(value["$PARAMETER"])
        else:
            for item in value.values():
                yield from _parameter_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from _parameter_names(item)


def resolve_parameters(
    suite: Suite, overrides: Mapping[str, Any] | None = None, seed: Path = schemes.SEED
) -> tuple[dict[str, Any], dict[int, str]]:
    """The values of the parameters the suite uses, and the expectations to skip with why.

    Precedence: run overrides, then dbt vars (the one place for thresholds), then the suite's
    own defaults. Only ``labels_<scheme>`` may be missing (the seed is being built elsewhere):
    its expectations are skipped and reported, never silently dropped.
    """
    available = {**suite.parameters, **product_vars(), **(overrides or {})}
    labels = (
        schemes.read_labels(seed)
        if any(n.startswith(LABEL_PREFIX) for e in suite.expectations for n in e.parameters)
        else {}
    )
    values: dict[str, Any] = {}
    skipped: dict[int, str] = {}
    for expectation in suite.expectations:
        for name in expectation.parameters:
            if name in available:
                values[name] = available[name]
            elif name.startswith(LABEL_PREFIX) and name[len(LABEL_PREFIX) :] in labels:
                values[name] = labels[name[len(LABEL_PREFIX) :]]
            else:
                skipped[expectation.index] = (
                    f"parameter {name} not available (no scheme "
                    f"{name[len(LABEL_PREFIX) :]!r} in {display_path(seed)})"
                )
    return values, skipped


def display_path(path: Path) -> str:
    """A path relative to the checkout when inside it: shorter in messages."""
    from orchestration.settings import PROJECT_ROOT

    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
