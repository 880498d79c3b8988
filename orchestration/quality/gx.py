"""Great Expectations itself: a session (one GE context for a batch of validations), the suites
as GE objects, and the Data Docs of the session's results, built once at its end.

GE's public API of version 1.x only, but for two pieces GE offers no public way to reach,
guarded by tests/test_validation.py (``test_the_private_ge_pieces_clientele_uses_still_exist``
fails when an upgrade moves them):
- ``context.validation_results_store`` (``list_keys``, ``remove_key``): keeping the latest
  results of each suite, as GE has no retention setting, and finding this session's results;
- ``great_expectations.data_context.types.resource_identifiers.ExpectationSuiteIdentifier``:
  naming the suites whose pages ``build_data_docs(resource_identifiers=...)`` renders.

The context is an ephemeral one over filesystem stores (suites and results under
``<root>/gx``, Data Docs under ``<root>/site``) rather than a ``FileDataContext``, which re-reads
its YAML config dozens of times per validation (~0.4 s per suite here). Creating one costs
about 10 ms once GE is imported; importing GE takes seconds, so it is imported lazily: loading
the Dagster definitions (which reads the suite files) must not pay for it.
"""

from __future__ import annotations

import contextlib
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

# GE keeps one "current project" per process (set by get_context): one session at a time.
_SESSION_LOCK = threading.RLock()


def data_docs_index(docs_root: Path) -> Path:
    return docs_root / "site" / "index.html"


def check_with_gx(suite: Suite) -> None:
    """Build every expectation with GE, so a wrong type or argument names file and key."""
    _gx_suite(suite, suite.name, skip=set())


class GxSession:
    """One GE context for a batch of validations: ``validate`` each frame, then
    ``build_docs`` once. Without a docs root nothing touches the disk.

    Each frame is validated through a pandas datasource of its own, deleted right after the
    run: GE's execution engine keeps the last batch it read, and a frame of 4M customers is a
    gigabyte the steps that follow need."""

    def __init__(self, docs_root: Path | None = None, run_name: str | None = None) -> None:
        self.docs_root = docs_root
        self.run_name = _safe_run_name(run_name)
        self.validated: list[str] = []
        self._sources = 0

    def __enter__(self) -> GxSession:
        from great_expectations.core.run_identifier import RunIdentifier

        _SESSION_LOCK.acquire()
        try:
            self.context = _new_context(self.docs_root)
        except BaseException:
            _SESSION_LOCK.release()
            raise
        self.run_id = RunIdentifier(run_name=self.run_name)
        return self

    def __exit__(self, *exc: object) -> None:
        del self.context
        _SESSION_LOCK.release()

    def validate(
        self,
        frame: pd.DataFrame,
        suite: Suite,
        gx_name: str,
        asset: tuple[str, ...],
        skip: Mapping[int, str],
        parameters: dict[str, Any],
    ) -> list[Any]:
        """The GE results of one suite on one frame (stored when the session has a root)."""
        import great_expectations as gx
        from great_expectations.exceptions import DataContextError

        context = self.context
        for factory in (context.validation_definitions, context.suites):
            with contextlib.suppress(DataContextError):  # stored by an earlier run
                factory.delete(gx_name)
        gx_suite = context.suites.add(_gx_suite(suite, gx_name, set(skip)))
        self._sources += 1
        source_name = f"{DATASOURCE}_{self._sources}"
        source = context.data_sources.add_pandas(source_name)
        batch = source.add_dataframe_asset(".".join(asset)).add_batch_definition_whole_dataframe(
            BATCH_DEFINITION
        )
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=gx_name, data=batch, suite=gx_suite)
        )
        if self.docs_root is not None:
            self._prune(gx_name)
        try:
            result = definition.run(
                batch_parameters={"dataframe": frame},
                expectation_parameters=parameters,
                result_format=_result_format(suite),
                run_id=self.run_id,
            )
        finally:
            context.validation_definitions.delete(gx_name)
            context.data_sources.delete(source_name)  # and the frame GE's engine kept
        self.validated.append(gx_name)
        return list(result.results)

    def build_docs(self, run_wide: bool = False) -> tuple[dict[str, Path], str | None]:
        """Render the pages of this session's results (with ``run_wide``, of every session of
        the run: the run name's), their suites and the index, once.

        Returns each suite's result page by GE suite name. Data Docs are a view of stored
        results: a rendering failure is reported, never turned into a failed check."""
        if self.docs_root is None or not (self.validated or run_wide):
            return {}, None
        try:
            names = None if run_wide else self.validated
            return _render_docs(self.context, names, self.run_id), None
        except Exception as exc:  # GE rendering raises anything; the validations stand
            logger.warning("Data Docs not written: %s", exc)
            return {}, f"Data Docs not written: {exc}"

    def _prune(self, gx_name: str) -> None:
        """Keep the latest results of a suite; Data Docs drop the pages of removed results."""
        store = self.context.validation_results_store
        keys = [k for k in store.list_keys() if k.expectation_suite_identifier.name == gx_name]
        keys.sort(key=lambda k: k.run_id.run_time)
        for key in keys[: max(0, len(keys) - KEEP_RESULTS_PER_SUITE + 1)]:
            store.remove_key(key)


def _render_docs(context: Any, names: list[str] | None, run_id: Any) -> dict[str, Path]:
    """Pages of the results of ``names`` in this session, or (None) of the whole run."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    keys = [
        k
        for k in context.validation_results_store.list_keys()
        if k.run_id.run_name == run_id.run_name
        and (
            names is None
            or (
                k.expectation_suite_identifier.name in names
                and k.run_id.run_time == run_id.run_time
            )
        )
    ]
    suites = [
        ExpectationSuiteIdentifier(name)
        for name in dict.fromkeys(k.expectation_suite_identifier.name for k in keys)
    ]
    context.build_data_docs(resource_identifiers=[*suites, *keys])
    pages = {}
    for key in keys:
        urls = context.get_docs_sites_urls(resource_identifier=key)
        pages[key.expectation_suite_identifier.name] = _file_path(urls[0]["site_url"])
    return pages


def _new_context(docs_root: Path | None) -> Any:
    """In memory without a root; else suites and results on disk (Data Docs render from them,
    across runs) and everything else in memory."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    stores, sites = InMemoryStoreBackendDefaults(), {}
    if docs_root is not None:
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
                "class_name": "SiteBuilder",
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


def _safe_run_name(run_name: str | None) -> str:
    """GE uses the run name as a folder name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_name or "adhoc")[:80]


def _file_path(url: str) -> Path:
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(url).path))
