"""Great Expectations suites declared under ``expectations/``, run on frames read from DuckDB.

A suite file names the asset it validates, optionally a SQL query producing the frame (for
cross-table rules), a severity (``error`` = blocking, ``warn``) and GE 1.x expectations in GE's
own configuration form; ``expectations/README.md`` documents the format.

GE cannot validate DuckDB through its SQL datasource (with duckdb-engine every expectation fails
with "list index out of range"), so the frame is read with DuckDB, through Arrow, into pandas
and validated with GE's pandas datasource. Results land in a file-backed GE project under
``$CLIENTELE_HOME/data_docs`` and are rendered as Data Docs HTML (``site/index.html``).

GE is imported lazily: its import takes seconds, and loading the Dagster definitions (which
reads the suite files) must not pay for it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from orchestration.config import product_vars
from orchestration.settings import DBT_PROJECT_DIR, EXPECTATIONS_DIR
from orchestration.warehouse import quote_identifier

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
SEGMENT_LABELS_SEED = DBT_PROJECT_DIR / "seeds" / "segment_labels.csv"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXPECTATION_TYPE = re.compile(r"^expect_[a-z0-9_]+$")
QUERY_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
COLUMN_KWARGS = ("column", "column_A", "column_B")
SAMPLES = 5
# Data Docs: the index lists this many latest results; each GE suite keeps this many results.
DOCS_INDEX_RESULTS = 60
KEEP_RESULTS_PER_SUITE = 60
DATASOURCE = "clientele"
BATCH_DEFINITION = "whole_dataframe"

logger = logging.getLogger(__name__)


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file and the key at fault."""

    def __init__(self, path: Path | str, key: str, problem: str) -> None:
        self.path, self.key, self.problem = Path(path), key, problem
        super().__init__(f"{display_path(self.path)}: {key}: {problem}")


class FrameError(RuntimeError):
    """The frame of a suite could not be read from the warehouse (missing table, bad SQL)."""


# ---------------------------------------------------------------------------------------------
# Suite files


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


def check_with_gx(suite: Suite) -> None:
    """Build every expectation with GE, so a wrong type or argument names file and key."""
    _gx_suite(suite, suite.name, skip=set())


# ---------------------------------------------------------------------------------------------
# Parameters: dbt vars, suite defaults, seed labels


def segment_labels(seed: Path = SEGMENT_LABELS_SEED) -> dict[str, list[str]]:
    """Allowed labels per scheme from the segment_labels seed; empty when the seed is absent."""
    if not seed.exists():
        return {}
    labels: dict[str, list[str]] = {}
    with seed.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            labels.setdefault(row["scheme"], []).append(row["label"])
    return labels


def resolve_parameters(
    suite: Suite, overrides: Mapping[str, Any] | None = None, seed: Path = SEGMENT_LABELS_SEED
) -> tuple[dict[str, Any], dict[int, str]]:
    """The values of the parameters the suite uses, and the expectations to skip with why.

    Precedence: run overrides, then dbt vars (the one place for thresholds), then the suite's
    own defaults. Only ``labels_<scheme>`` may be missing (the seed is being built elsewhere):
    its expectations are skipped and reported, never silently dropped.
    """
    available = {**suite.parameters, **product_vars(), **(overrides or {})}
    labels = (
        segment_labels(seed)
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


# ---------------------------------------------------------------------------------------------
# Reading the frame


def read_frame(
    con: duckdb.DuckDBPyConnection, suite: Suite, asset: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """The frame a suite validates: its query, else the needed columns of its table."""
    asset = asset or suite.assets[0]
    if suite.query:
        params = {"asset_name": asset[-1]}
        sql, bound = suite.query, {k: params[k] for k in suite.query_parameters}
    else:
        sql, bound = _table_sql(con, suite, asset), {}
    try:
        table = con.sql(sql, params=bound or None).to_arrow_table()
    except duckdb.Error as exc:
        raise FrameError(f"{display_path(suite.path)}: reading the frame failed: {exc}") from exc
    missing = [c for c in suite.row_id if c not in table.column_names]
    if missing:
        raise FrameError(
            f"{display_path(suite.path)}: row_id column {missing[0]!r} is not in the frame"
        )
    return to_pandas(table)


def _table_sql(con: duckdb.DuckDBPyConnection, suite: Suite, asset: tuple[str, ...]) -> str:
    schema, name = suite.table_for(asset).split(".")
    rows = con.execute(
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
        "order by column_index",
        [schema, name],
    ).fetchall()
    existing = [r[0] for r in rows]
    if not existing:
        raise FrameError(
            f"{display_path(suite.path)}: table {schema}.{name} is not in the warehouse"
        )
    wanted = set(suite.row_id)
    for e in suite.expectations:
        if e.type.startswith("expect_table_"):
            wanted = set(existing)
            break
        wanted.update(e.columns)
    # Only the columns the suite looks at (wide tables, millions of rows); a column that does
    # not exist is left out so that GE reports it on its expectation.
    chosen = [c for c in existing if c in wanted] or existing[:1]
    columns = ", ".join(quote_identifier(c) for c in chosen)
    return f"select {columns} from {quote_identifier(schema)}.{quote_identifier(name)}"


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas keeping NULL and NaN apart, in dtypes GE checks fast.

    GE's pandas ``between`` is vectorized only for numpy ints and floats; on any other dtype it
    calls a Python function per value (11 s for one suite of 400k customers). So numbers become
    numpy columns where that loses nothing: integers (with NULL: floats, exact for counts and
    scores) and floats without NaN (NULL becomes NaN, which every expectation treats as
    missing). A float column that holds NaN stays Arrow-backed, so that NaN is an ordinary value
    range rules flag rather than a missing one. Decimals (money) become floats: range rules need
    numbers, exact-to-the-cent rules belong in a suite query.

    Text stays in Arrow (no copy into Python strings), and text with few distinct values
    (labels, codes) becomes categorical: GE hashes the whole frame and filters every column
    once per expectation, which costs little on category codes and much on 400k strings.
    """
    frame = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            frame[name] = _text_series(column)
            continue
        if pa.types.is_decimal(column.type):
            column = pc.cast(column, pa.float64())
        numpy = pa.types.is_integer(column.type) or (
            pa.types.is_floating(column.type) and not pc.any(pc.is_nan(column)).as_py()
        )
        if numpy:
            frame[name] = column.to_numpy(zero_copy_only=False)
        else:
            frame[name] = column.to_pandas(types_mapper=_pandas_dtype)
    return pd.DataFrame(frame, index=pd.RangeIndex(table.num_rows))


CATEGORY_PROBE = 10_000


def _text_series(column: pa.ChunkedArray) -> pd.Series:
    """Categorical when values repeat (at most one distinct value per two rows of the first
    ``CATEGORY_PROBE`` rows: counting over 4M ids costs seconds) and none is NULL (a
    categorical NULL would show as "NaN" in the samples), else Arrow-backed text. Either way
    the values and the outcomes are the same; only the speed differs."""
    probe = column.slice(0, CATEGORY_PROBE)
    repeats = len(probe) > 0 and pc.count_distinct(probe).as_py() * 2 <= len(probe)
    if repeats and column.null_count == 0:
        return pd.Series(column.dictionary_encode().to_pandas())
    return pd.Series(pd.arrays.ArrowExtensionArray(column))


def _pandas_dtype(arrow_type: pa.DataType) -> Any:
    """The dtype of a column ``to_pandas`` leaves to pandas (integers and text never get
    here)."""
    if pa.types.is_floating(arrow_type):
        return pd.ArrowDtype(arrow_type)
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


# ---------------------------------------------------------------------------------------------
# Results


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

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def success(self) -> bool:
        return not self.failed

    @property
    def critical_failures(self) -> list[Outcome]:
        return [o for o in self.failed if o.severity == "critical"]

    @property
    def passed_blocking(self) -> bool:
        """No critical expectation failed: what decides whether publication may go on."""
        return not self.critical_failures

    def outcome(self, expectation_type: str, where: str | None = None) -> Outcome:
        """The outcome of an expectation by type (and column), for tests and callers."""
        for o in self.outcomes:
            if o.type == expectation_type and (where is None or o.where == where):
                return o
        raise KeyError(f"{self.suite}: no outcome for {expectation_type} on {where}")


def run_suite(
    suite: Suite,
    con: duckdb.DuckDBPyConnection,
    *,
    asset: tuple[str, ...] | None = None,
    docs_root: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    run_name: str | None = None,
    seed: Path = SEGMENT_LABELS_SEED,
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
    seed: Path = SEGMENT_LABELS_SEED,
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
        with _GX_LOCK:
            results, docs_page, docs_error = _run_gx(
                frame, suite, gx_name, asset, skip, parameters, docs_root, run_name
            )
        outcomes = tuple(sorted((_outcome(suite, r) for r in results), key=lambda o: o.index))
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


# ---------------------------------------------------------------------------------------------
# Great Expectations

_GX_LOCK = threading.RLock()  # GE keeps a process-wide "current project"
_CONTEXTS: dict[str, Any] = {}


def gx_context(docs_root: Path | None = None) -> Any:
    """One GE context per root and process: in memory without a root, else file-backed.

    With a root, suites and validation results are stored in ``<root>/gx`` and Data Docs in
    ``<root>/site``. The context is an ephemeral one over those filesystem stores rather than a
    ``FileDataContext``: the latter re-reads its YAML config dozens of times per validation
    (~0.4 s per suite here) and persists datasources that are rebuilt every run anyway.
    Creating a context is cheap once GE is imported (5-9 s, once per process); reusing it
    avoids rebuilding the stores for every suite.
    """
    from great_expectations.data_context.data_context.context_factory import project_manager

    key = str(docs_root or "")
    with _GX_LOCK:
        context = _CONTEXTS.get(key)
        if context is None:
            context = _new_context(docs_root)
            _CONTEXTS[key] = context
        project_manager.set_project(context)  # GE looks its stores up through this global
        return context


def data_docs_index(docs_root: Path) -> Path:
    return docs_root / "site" / "index.html"


def _new_context(docs_root: Path | None) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    stores, sites = InMemoryStoreBackendDefaults(), {}
    if docs_root is not None:
        # Suites and results on disk (Data Docs render from them, across runs); validation
        # definitions in memory: they name the in-memory pandas datasource.
        docs_root.mkdir(parents=True, exist_ok=True)
        for name, folder in (
            (stores.expectations_store_name, "expectations"),
            (stores.validation_results_store_name, "validations"),
        ):
            stores.stores[name]["store_backend"] = {
                "class_name": "TupleFilesystemStoreBackend",
                "root_directory": str(docs_root / "gx"),
                "base_directory": folder,
            }
        sites = {
            "local_site": {
                "module_name": __name__,
                "class_name": "CachedTemplatesSiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(data_docs_index(docs_root).parent),
                },
                "site_section_builders": {"profiling": "None"},
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "validation_results_limit": DOCS_INDEX_RESULTS,
                },
            }
        }
    config = DataContextConfig(
        store_backend_defaults=stores,
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def __getattr__(name: str) -> Any:
    """``CachedTemplatesSiteBuilder`` is made on first use: it subclasses a GE class, and this
    module must import without GE. GE's site config names it by module and class."""
    if name == "CachedTemplatesSiteBuilder":
        globals()[name] = cls = _cached_templates_site_builder()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _cached_templates_site_builder() -> type:
    import jinja2
    from great_expectations.render.renderer.site_builder import SiteBuilder

    class ProcessBytecodeCache(jinja2.BytecodeCache):
        def __init__(self) -> None:
            self.compiled: dict[str, bytes] = {}

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            if bucket.key in self.compiled:
                bucket.bytecode_from_string(self.compiled[bucket.key])

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            self.compiled[bucket.key] = bucket.bytecode_to_string()

    cache = ProcessBytecodeCache()

    class CachedTemplatesSiteBuilder(SiteBuilder):
        """GE's site builder, but Jinja templates compile once per process, not per page:
        GE makes a new Jinja environment for every build (~0.6 s of compiling each time)."""

        def __init__(  # noqa: PLR0913 - GE passes these by name
            self,
            data_context: Any,
            store_backend: Any,
            site_name: Any = None,
            site_index_builder: Any = None,
            show_how_to_buttons: bool = True,
            site_section_builders: Any = None,
            runtime_environment: Any = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(
                data_context,
                store_backend,
                site_name=site_name,
                site_index_builder=site_index_builder,
                show_how_to_buttons=show_how_to_buttons,
                site_section_builders=site_section_builders,
                runtime_environment=runtime_environment,
                **kwargs,
            )
            for builder in [*self.site_section_builders.values(), self.site_index_builder]:
                builder.view_class.env.bytecode_cache = cache

    return CachedTemplatesSiteBuilder


def _gx_suite(suite: Suite, gx_name: str, skip: set[int]) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    expectations = []
    for e in suite.expectations:
        if e.index in skip:
            continue
        try:
            config = ExpectationConfiguration(
                type=e.type,
                kwargs=dict(e.kwargs),
                meta={**e.meta, "clientele_index": e.index},
                notes=e.notes,
                description=e.description,
                severity=e.severity,
            )
            expectations.append(config.to_domain_obj())
        except Exception as exc:  # GE raises many kinds for a bad type or argument
            problem = " ".join(str(exc).split())[:400]
            raise SuiteError(
                suite.path, f"expectations[{e.index}]", f"rejected by GE: {problem}"
            ) from exc
    return gx.ExpectationSuite(
        name=gx_name, expectations=expectations, meta={"suite_file": display_path(suite.path)}
    )


def _run_gx(
    frame: pd.DataFrame,
    suite: Suite,
    gx_name: str,
    asset: tuple[str, ...],
    skip: Mapping[int, str],
    parameters: dict[str, Any],
    docs_root: Path | None,
    run_name: str | None,
) -> tuple[list[Any], Path | None, str | None]:
    """Results, the Data Docs page of this validation, and why there is none if it failed."""
    from great_expectations.core.run_identifier import RunIdentifier

    context = gx_context(docs_root)
    definition = _validation_definition(context, suite, gx_name, asset, set(skip))
    if docs_root is not None:
        _prune(context, gx_name)
    run_id = RunIdentifier(run_name=_safe_run_name(run_name))
    try:
        result = definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=parameters,
            result_format=_result_format(suite),
            run_id=run_id,
        )
    finally:
        _forget_batches(context)
    if docs_root is None:
        return list(result.results), None, None
    page, docs_error = _build_docs(context, gx_name, run_id)
    return list(result.results), page, docs_error


def _forget_batches(context: Any) -> None:
    """Drop the frames GE's execution engines keep after a run. The contexts live for the
    whole process, so each would otherwise hold its last frame (1 GB for 4M customer facts)
    through the dbt steps that follow."""
    for source in context.data_sources.all().values():
        batches = source.get_execution_engine().batch_manager
        batches.batch_data_cache.clear()
        batches.reset_batch_cache()


def _build_docs(context: Any, gx_name: str, run_id: Any) -> tuple[Path | None, str | None]:
    """Render this result's page, its suite's page and the index. Data Docs are a view of
    stored results: a rendering failure is reported, never turned into a failed check."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    try:
        keys = [
            k
            for k in context.validation_results_store.list_keys()
            if k.expectation_suite_identifier.name == gx_name
            and k.run_id.run_name == run_id.run_name
            and k.run_id.run_time == run_id.run_time
        ]
        context.build_data_docs(resource_identifiers=[ExpectationSuiteIdentifier(gx_name), *keys])
        urls = context.get_docs_sites_urls(resource_identifier=keys[0])
        return _file_path(urls[0]["site_url"]), None
    except Exception as exc:  # GE rendering raises anything; the validation itself stands
        logger.warning("Data Docs for %s not written: %s", gx_name, exc)
        return None, f"Data Docs not written: {exc}"


_PREPARED: dict[tuple[int, str], tuple[str, Any]] = {}


def _validation_definition(
    context: Any, suite: Suite, gx_name: str, asset: tuple[str, ...], skip: set[int]
) -> Any:
    """The suite's GE validation definition, made once per process and suite version.
    Replaced by delete + add: GE's ``add_or_update`` compares every expectation with every
    stored one (about a second for a 50-expectation suite)."""
    import great_expectations as gx
    from great_expectations.exceptions import DataContextError

    fingerprint = json.dumps(
        [
            [e.type, e.kwargs, e.severity, e.meta, e.notes, e.description]
            for e in suite.expectations
            if e.index not in skip
        ]
        + [list(asset), list(suite.row_id), str(suite.path)],
        sort_keys=True,
        default=str,
    )
    key = (id(context), gx_name)
    cached = _PREPARED.get(key)
    if cached and cached[0] == fingerprint:
        return cached[1]
    for factory in (context.validation_definitions, context.suites):
        with contextlib.suppress(DataContextError):  # not stored yet
            factory.delete(gx_name)
    gx_suite = context.suites.add(_gx_suite(suite, gx_name, skip))
    batch = _batch_definition(context, ".".join(asset))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=gx_name, data=batch, suite=gx_suite)
    )
    _PREPARED[key] = (fingerprint, definition)
    return definition


def _result_format(suite: Suite) -> dict[str, Any]:
    """SUMMARY: counts and a few samples, named by the suite's row_id columns."""
    result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": SAMPLES,
        # GE would otherwise build, per expectation, a pandas "query" listing every unexpected
        # index: a filtered copy of the whole frame (about 5 of 18 s for 4M customer facts)
        # for a string nobody reads.
        "return_unexpected_index_query": False,
    }
    if suite.row_id:
        result_format["unexpected_index_column_names"] = list(suite.row_id)
    return result_format


def _batch_definition(context: Any, asset_name: str) -> Any:
    try:
        source = context.data_sources.get(DATASOURCE)
    except (KeyError, ValueError, LookupError):
        source = context.data_sources.add_pandas(DATASOURCE)
    try:
        data_asset = source.get_asset(asset_name)
    except LookupError:
        data_asset = source.add_dataframe_asset(asset_name)
    try:
        return data_asset.get_batch_definition(BATCH_DEFINITION)
    except (KeyError, LookupError):
        return data_asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


def _prune(context: Any, gx_name: str) -> None:
    """Keep the latest results of a suite; Data Docs drop the pages of removed results."""
    store = context.validation_results_store
    keys = [k for k in store.list_keys() if k.expectation_suite_identifier.name == gx_name]
    keys.sort(key=lambda k: k.run_id.run_time)
    for key in keys[: max(0, len(keys) - KEEP_RESULTS_PER_SUITE + 1)]:
        store.remove_key(key)


def _safe_run_name(run_name: str | None) -> str:
    """GE uses the run name as a folder name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_name or "adhoc")[:80]


def _file_path(url: str) -> Path:
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(url).path))


def _outcome(suite: Suite, result: Any) -> Outcome:
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


def display_path(path: Path) -> str:
    """A path relative to the checkout when inside it: shorter in messages."""
    from orchestration.settings import PROJECT_ROOT

    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


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
