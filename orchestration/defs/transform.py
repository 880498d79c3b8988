"""The dbt project as Dagster assets, built for the as-of date D in two invocations.

A model's folder is its layer and its Dagster group, both derived from ``FOLDERS`` below:
``models/staging`` is the group ``staging``; ``models/intermediate/<group>`` and
``models/marts/<group>`` are ``<group>``; the seeds belong to ``segments``. The night runs two
dbt invocations chosen by those folders: ``dbt_facts`` (groups ``staging`` and ``facts``: what
the CLV model needs) before the Python model, ``dbt_segments_and_marts`` (the seeds and the
groups ``segments`` and ``scorecards``) after it. Two explicit invocations keep it to two dbt
processes per run (each costs seconds of fixed start-up) instead of letting Dagster split one
multi-asset around the Python model. Each is selected by its own folders, not by excluding the
other's: an exclusion would drop every test that also reads an excluded model (a scorecard
input's relationship to ``int_customer_facts``), and those tests would be asset checks of
neither. dbt data tests run in the same ``dbt build`` and show as asset checks; they hold the
structure of the dbt models, and what SPEC §8 validates is in ``expectations/`` (see its
README, "Where a check lives"). Two kinds of tests run in the test suite instead of every
night, because they check the SQL, not the night's data: dbt unit tests, and the data tests
tagged ``grain`` (a GROUP BY's output is unique on its keys whatever the input; at 100M order
lines these two scans cost 17 s a night).
"""

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration import dbt_worker, lake, settings
from orchestration.dbt import (
    AS_OF_ENV,
    ClienteleDbtCli,
    dbt_project,
    ensure_manifest,
    keep_partial_parse,
    project_target,
)
from orchestration.defs.resources import Night
from orchestration.warehouse import give_back_memory

PROJECT = "clientele"  # the dbt project's name, the first part of every fqn
# The one table of dbt folders (under the project) and their Dagster groups; the UI shows the
# flow ingest -> staging -> facts -> model -> segments -> scorecards -> publish.
FOLDERS = {
    "models/staging": "staging",
    "models/intermediate/facts": "facts",
    "models/marts/facts": "facts",
    "models/intermediate/segments": "segments",
    "models/marts/segments": "segments",
    "models/intermediate/scorecards": "scorecards",
    "models/marts/scorecards": "scorecards",
    "seeds": "segments",  # the label names and personality types the segment rules use
}
BEFORE_CLV_GROUPS = ("staging", "facts")  # everything the CLV model reads
AFTER_CLV_GROUPS = ("segments", "scorecards")
SQL_ONLY_TESTS = "tag:grain"  # run by tests/test_dbt_unit_tests.py


def folder_of(dbt_resource_props: Mapping[str, Any]) -> str | None:
    """The entry of ``FOLDERS`` holding a model or seed (its file's deepest listed folder)."""
    path = PurePosixPath(dbt_resource_props.get("original_file_path", ""))
    return next((str(p) for p in path.parents if str(p) in FOLDERS), None)


def selector(folder: str) -> str:
    """The dbt selector of everything in one folder of ``FOLDERS``.

    ``fqn:`` rather than ``path:``: dbt resolves a path against the working directory, and
    Dagster evaluates the selection in its own process, wherever that was started. Seeds sit
    at the top of their folder, so their fqn has no folder part.
    """
    if folder == "seeds":
        return "resource_type:seed"
    return f"fqn:{PROJECT}.{'.'.join(PurePosixPath(folder).parts[1:])}"


def selection(groups: Iterable[str]) -> str:
    """A dbt selection of every model and seed in the folders of ``groups``."""
    wanted = set(groups)
    return " ".join(selector(folder) for folder, group in FOLDERS.items() if group in wanted)


FACTS_SELECTION = selection(BEFORE_CLV_GROUPS)
SEGMENTS_AND_MARTS_SELECTION = selection(AFTER_CLV_GROUPS)


class ClienteleTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        folder = folder_of(dbt_resource_props)
        return FOLDERS[folder] if folder else None

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return settings.OWNERS


def build(context: dg.AssetExecutionContext, dbt: DbtCliResource, night: Night):
    """``dbt build`` of the selected models and their tests for the partition's as-of date."""
    paths = settings.current()
    # dbt-duckdb does not create the folder, and a seeds-only step can run before any ingest.
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    # "buildable": a test on several models runs in the invocation that has built them all.
    # dbt unit tests check SQL logic on fixed inputs, not the night's data: they run in
    # `make test` (tests/test_dbt_unit_tests.py), not in every nightly build, as dbt advises.
    args = ["build", "--indirect-selection", "buildable", "--exclude-resource-type", "unit_test"]
    if night.full_refresh:  # the incremental models rebuilt from every loaded drop
        args.append("--full-refresh")
    # dagster-dbt hands this process's environment to dbt; steps run one at a time.
    os.environ[AS_OF_ENV] = night.date.isoformat()
    on_spark = settings.engine() == "spark"
    if on_spark:  # Spark reads the sources from the lake, written now from the warehouse
        tables = lake.write_sources(paths)
        context.log.info(f"lake: {len(tables)} source tables written for Spark")
    selected = dbt_worker.selection(context)
    if (
        isinstance(dbt, ClienteleDbtCli)
        and not on_spark
        and dbt_worker.can_build(selected.selection_args)
    ):
        target = dbt_worker.invocation_folder(context)
        give_back_memory(collect=True)  # what GE and the CLV fit freed, for dbt beside it
        yield from dbt.worker().build(context, args, selected, target)
        keep_as_latest(target, context.op_def.name)
        return
    invocation = dbt.cli(args, context=context)
    yield from invocation.stream()
    if on_spark:  # what follows reads the warehouse: Spark's tables are copied back into it
        built = lake.built_relations(
            invocation.get_artifact("run_results.json"), invocation.get_artifact("manifest.json")
        )
        pulled = lake.pull_built(paths, built)
        context.log.info(f"lake: {pulled} tables built on Spark copied into the warehouse")
    keep_partial_parse(invocation.target_path)
    keep_as_latest(invocation.target_path, context.op_def.name)


def keep_as_latest(invocation_target: Path, step: str) -> None:
    """Keep this invocation's folder (manifest, run_results.json) as ``target/latest_<step>``.

    dagster-dbt gives every invocation a folder of its own (4-5 MB here) and never removes it:
    two a night would fill gigabytes in a year. A failed invocation's folder stays for
    diagnosis (the step fails before this runs)."""
    project_dir = Path(dbt_project.project_dir)
    folder = project_dir / invocation_target  # as keep_partial_parse finds it
    latest = project_target() / f"latest_{step}"
    shutil.rmtree(latest, ignore_errors=True)
    try:
        folder.rename(latest)
    except OSError:  # another home's run of the same project took the name meanwhile
        shutil.rmtree(folder, ignore_errors=True)


MANIFEST = ensure_manifest()  # once: it walks the project's files to see whether to re-parse


def dbt_step(name: str, select: str) -> dg.AssetsDefinition:
    """One of the night's dbt invocations: ``dbt build`` of the models in ``select``."""

    @dbt_assets(
        manifest=MANIFEST,
        select=select,
        exclude=SQL_ONLY_TESTS,
        name=name,
        dagster_dbt_translator=ClienteleTranslator(),
    )
    def step(context: dg.AssetExecutionContext, dbt: DbtCliResource, night: Night):
        yield from build(context, dbt, night)

    return step


dbt_facts = dbt_step("dbt_facts", FACTS_SELECTION)
dbt_segments_and_marts = dbt_step("dbt_segments_and_marts", SEGMENTS_AND_MARTS_SELECTION)
