"""Great Expectations suites (``expectations/*.yml``) as Dagster asset checks.

One check per suite and asset, named ``gx_<suite>``: blocking for ``severity: error`` suites
(bad data stops everything downstream, publication included), WARN for ``severity: warn``.

Checks are built only for assets that exist in the definitions, because a suite may name a
table another engineer is still building: ``orchestration/definitions.py`` loads this folder
with ``dg.load_from_defs_folder`` and passes the result through ``with_validation_checks``,
which reads the asset keys it holds. This module therefore defines no checks at import time.
"""

from collections.abc import Iterable

import dagster as dg

from orchestration import quality
from orchestration.defs.resources import Night, Warehouse
from orchestration.settings import EXPECTATIONS_DIR


def with_validation_checks(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` plus a check for every suite whose asset it defines."""
    checks = build_validation_checks(defs.resolve_all_asset_keys())
    return dg.Definitions.merge(defs, dg.Definitions(asset_checks=checks)) if checks else defs


def build_validation_checks(
    asset_keys: Iterable[dg.AssetKey], suites: list[quality.Suite] | None = None
) -> list[dg.AssetChecksDefinition]:
    """Checks for the suites' assets that are in ``asset_keys``; the others are skipped."""
    known = set(asset_keys)
    suites = quality.load_suites(EXPECTATIONS_DIR) if suites is None else suites
    return [
        build_suite_check(suite, asset)
        for suite in suites
        for asset in suite.assets
        if dg.AssetKey(list(asset)) in known
    ]


def build_suite_check(suite: quality.Suite, asset: tuple[str, ...]) -> dg.AssetChecksDefinition:
    kind = "Blocking" if suite.blocking else "Warning"
    description = (
        f"{kind} Great Expectations suite {quality.display_path(suite.path)} "
        f"({len(suite.expectations)} expectations). {suite.description}"
    )

    @dg.asset_check(
        asset=dg.AssetKey(list(asset)),
        name=f"gx_{suite.name}",
        blocking=suite.blocking,
        description=description,
    )
    def gx_suite_check(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse, night: Night
    ) -> dg.AssetCheckResult:
        try:
            with warehouse.connect(read_only=True) as con:
                result = quality.run_suite(
                    suite,
                    con,
                    asset=asset,
                    docs_root=warehouse.paths.data_docs,
                    run_name=f"{night.date}_{context.run.run_id[:8]}",
                )
        except (quality.FrameError, quality.SuiteError) as error:
            context.log.error(str(error))
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR
                if suite.blocking
                else dg.AssetCheckSeverity.WARN,
                metadata={"error": dg.MetadataValue.text(str(error)), **_suite_metadata(suite)},
            )
        for outcome in result.failed:
            context.log.warning(
                f"{result.suite}: {outcome.type} on {outcome.where} failed "
                f"({outcome.unexpected_count} unexpected) e.g. {list(outcome.samples)[:3]}"
            )
        return check_result(suite, result)

    return gx_suite_check


def check_result(suite: quality.Suite, result: quality.SuiteResult) -> dg.AssetCheckResult:
    """Passed, or failed with ERROR when a critical expectation failed (blocks when the check
    is blocking), else WARN; metadata with what a person needs to act."""
    only_warnings = bool(result.failed) and not result.critical_failures
    severity = dg.AssetCheckSeverity.WARN if only_warnings else dg.AssetCheckSeverity.ERROR
    metadata: dict[str, dg.MetadataValue] = {
        **_suite_metadata(suite),
        "rows_validated": dg.MetadataValue.int(result.rows),
        "expectations_failed": dg.MetadataValue.int(len(result.failed)),
        "expectations_passed": dg.MetadataValue.int(len(result.outcomes) - len(result.failed)),
        "expectations_skipped": dg.MetadataValue.int(len(result.skipped)),
        "failed_expectations": dg.MetadataValue.md(
            quality.markdown_table(result, failed_only=True)
            if result.failed
            else "All expectations passed."
        ),
        "results": dg.MetadataValue.md(quality.markdown_table(result)),
        "seconds": dg.MetadataValue.float(round(result.seconds, 3)),
    }
    if result.data_docs:
        metadata["data_docs"] = dg.MetadataValue.path(str(result.data_docs))
    if result.data_docs_index:
        metadata["data_docs_index"] = dg.MetadataValue.path(str(result.data_docs_index))
    if result.docs_error:
        metadata["data_docs_error"] = dg.MetadataValue.text(result.docs_error)
    # The first failing row of each, so a warning printed by the CLI says what was found
    # (e.g. the backtest's error, a source's quarantine rate).
    failed = ", ".join(
        f"{o.type} on {o.where}" + (f" (e.g. {o.samples[0]})" if o.samples else "")
        for o in result.failed
    )
    return dg.AssetCheckResult(
        passed=result.success,
        severity=severity,
        metadata=metadata,
        description=f"{len(result.failed)} expectation(s) failed: {failed}" if failed else None,
    )


def _suite_metadata(suite: quality.Suite) -> dict[str, dg.MetadataValue]:
    return {
        "suite_file": dg.MetadataValue.path(quality.display_path(suite.path)),
        "severity": dg.MetadataValue.text(suite.severity),
    }
