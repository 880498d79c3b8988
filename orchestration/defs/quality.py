"""Great Expectations suites (``expectations/*.yml``) as Dagster asset checks.

One check per suite and asset, named ``gx_<suite>``: blocking for ``severity: error`` suites
(bad data stops everything downstream, publication included), WARN for ``severity: warn``.

The checks of one stage run together in one step (``gx_ingest``, ``gx_facts``, ``gx_model``,
``gx_marts``: the assets a step of the flow produced), with one Great Expectations session:
GE is set up once per stage, not per suite, and a night writes far fewer Dagster events. Data
Docs are built once per run, by the last stage, or by the stage whose blocking check stops the
run, so the index shows every night, a failed one included.

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

# The step that produced an asset, folded into the flow's stages.
STAGE_OF_STEP = {"dbt_facts": "facts", "dbt_segments_and_marts": "marts"}
STAGE_OF_GROUP = {"ingest": "ingest", "model": "model"}

Pair = tuple[quality.Suite, tuple[str, ...]]


def with_validation_checks(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` plus a check for every suite whose asset it defines."""
    checks = build_validation_checks(defs.resolve_asset_graph())
    return dg.Definitions.merge(defs, dg.Definitions(asset_checks=checks)) if checks else defs


def build_validation_checks(
    graph, suites: list[quality.Suite] | None = None
) -> list[dg.AssetChecksDefinition]:
    """One multi-asset check per stage, for the suites' assets that ``graph`` holds."""
    stages = pairs_by_stage(graph, suites)
    last = list(stages)[-1] if stages else None
    return [build_stage_checks(stage, pairs, stage == last) for stage, pairs in stages.items()]


def pairs_by_stage(graph, suites: list[quality.Suite] | None = None) -> dict[str, list[Pair]]:
    """The (suite, asset) pairs of each stage, stages in the order the flow runs them.

    A stage's step must not check an asset upstream of another asset it checks: Dagster would
    split the step, and the dbt steps after it, so that the upstream asset's blocking checks
    pass first. Such an asset is checked in a stage of its own (``<stage>_upstream``): orders
    are loaded after products, whose ids they are checked against."""
    suites = quality.load_suites(EXPECTATIONS_DIR) if suites is None else suites
    order = {key: i for i, key in enumerate(graph.toposorted_asset_keys)}
    checked = {
        dg.AssetKey(list(asset)): stage_of(graph, dg.AssetKey(list(asset)))
        for suite in suites
        for asset in suite.assets
        if dg.AssetKey(list(asset)) in order
    }
    stage = {
        key: f"{name}_upstream"
        if any(checked.get(later) == name for later in graph.get(key).child_keys if later != key)
        else name
        for key, name in checked.items()
    }
    known = [(suite, asset) for suite in suites for asset in suite.assets]
    known = [pair for pair in known if dg.AssetKey(list(pair[1])) in stage]
    known.sort(key=lambda pair: (order[dg.AssetKey(list(pair[1]))], pair[0].name))
    stages: dict[str, list[Pair]] = {}
    for suite, asset in known:
        stages.setdefault(stage[dg.AssetKey(list(asset))], []).append((suite, asset))
    return stages


def stage_of(graph, key: dg.AssetKey) -> str:
    step = graph.assets_def_for_key(key).node_def.name
    return STAGE_OF_STEP.get(step) or STAGE_OF_GROUP.get(graph.get(key).group_name) or step


def build_stage_checks(stage: str, pairs: list[Pair], last: bool) -> dg.AssetChecksDefinition:
    by_key = {check_key(suite, asset): (suite, asset) for suite, asset in pairs}

    @dg.multi_asset_check(
        name=f"gx_{stage}",
        specs=[
            dg.AssetCheckSpec(
                name=key.name,
                asset=key.asset_key,
                blocking=suite.blocking,
                description=(
                    f"{'Blocking' if suite.blocking else 'Warning'} Great Expectations suite "
                    f"{quality.display_path(suite.path)} ({len(suite.expectations)} "
                    f"expectations). {suite.description}"
                ),
            )
            for key, (suite, _) in by_key.items()
        ],
        can_subset=True,
        description=f"The Great Expectations suites of the {stage} stage, in one GE session.",
    )
    def stage_checks(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse, night: Night
    ) -> Iterable[dg.AssetCheckResult]:
        chosen = [by_key[k] for k in by_key if k in context.selected_asset_check_keys]
        docs_root = warehouse.paths.data_docs
        run_name = f"{night.date}_{context.run.run_id[:8]}"
        with quality.GxSession(docs_root, run_name) as session:
            with warehouse.connect(read_only=True) as con:
                results = quality.run_suites(chosen, con, session=session)
            stops = any(r.blocking and not r.passed_blocking for r in results)
            pages, docs_error = session.build_docs(run_wide=True) if last or stops else ({}, None)
        for (suite, asset), result in zip(chosen, results, strict=True):
            result = quality.with_docs(result, pages, docs_root, docs_error)
            for line in result.problems():
                context.log.warning(line)
            yield check_result(suite, result, check_key(suite, asset))

    return stage_checks


def check_key(suite: quality.Suite, asset: tuple[str, ...]) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(dg.AssetKey(list(asset)), f"gx_{suite.name}")


def check_result(
    suite: quality.Suite, result: quality.SuiteResult, key: dg.AssetCheckKey | None = None
) -> dg.AssetCheckResult:
    """Passed, or failed with ERROR when a critical expectation failed or the frame could not
    be read (blocks when the check is blocking), else WARN; metadata with what a person needs
    to act."""
    target = {"asset_key": key.asset_key, "check_name": key.name} if key else {}
    if result.error:
        return dg.AssetCheckResult(
            **target,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR if suite.blocking else dg.AssetCheckSeverity.WARN,
            metadata={"error": dg.MetadataValue.text(result.error), **_suite_metadata(suite)},
            description=result.error,
        )
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
        **target,
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
