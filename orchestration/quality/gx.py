"""Great Expectations itself: one context per process and Data Docs root, the suites as GE
objects, a validation run and its Data Docs pages.

GE is imported lazily: its import takes seconds, and loading the Dagster definitions (which
reads the suite files) must not pay for it."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from orchestration.quality.results import SAMPLES
from orchestration.quality.suites import Suite, SuiteError, display_path

# Data Docs: the index lists this many latest results; each GE suite keeps this many results.
DOCS_INDEX_RESULTS = 60


KEEP_RESULTS_PER_SUITE = 60


DATASOURCE = "clientele"


BATCH_DEFINITION = "whole_dataframe"


logger = logging.getLogger(__name__)


def check_with_gx(suite: Suite) -> None:
    """Build every expectation with GE, so a wrong type or argument names file and key."""
    _gx_suite(suite, suite.name, skip=set())


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


def run_gx(
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
    with _GX_LOCK:  # GE keeps a process-wide "current project"
        return _run_locked(frame, suite, gx_name, asset, skip, parameters, docs_root, run_name)


def _run_locked(
    frame: pd.DataFrame,
    suite: Suite,
    gx_name: str,
    asset: tuple[str, ...],
    skip: Mapping[int, str],
    parameters: dict[str, Any],
    docs_root: Path | None,
    run_name: str | None,
) -> tuple[list[Any], Path | None, str | None]:
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
