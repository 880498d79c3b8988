"""The code location loads and shows the flow, the nightly schedule and the sensor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration.dbt import ensure_manifest
from orchestration.definitions import defs
from orchestration.ingest.contract import SOURCES


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


@pytest.fixture(scope="module")
def manifest(definitions) -> dict:
    """dbt's manifest (loading the code location first sets the CLIENTELE_HOME parsing needs)."""
    return json.loads(ensure_manifest().read_text())


def tag(selection: str) -> str:
    return selection.removeprefix("tag:")


def test_dg_check_defs_passes():
    dg_bin = Path(sys.executable).parent / "dg"
    result = subprocess.run(
        [str(dg_bin), "check", "defs"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ingest_feeds_staging_feeds_facts(definitions):
    graph = definitions.resolve_asset_graph()
    parents = graph.get(dg.AssetKey(["staging", "stg_raw__orders"])).parent_keys
    assert dg.AssetKey(["raw", "orders"]) in parents
    facts = dg.AssetKey(["main", "customer_facts"])
    assert facts in graph.get_all_asset_keys()
    upstream = graph.upstream_key_iterator(facts)
    assert dg.AssetKey(["raw", "orders"]) in set(upstream)


def test_assets_are_grouped_by_stage(definitions):
    graph = definitions.resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert {"ingest", "staging", "facts"} <= groups
    assert graph.get(dg.AssetKey(["raw", "orders"])).group_name == "ingest"


def test_nightly_schedule_runs_at_two_for_yesterday(definitions):
    schedule = definitions.resolve_schedule_def("clientele_nightly_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.job_name == "clientele_nightly"


def test_the_schedule_asks_for_yesterday_as_run_config(definitions):
    import datetime as dt

    schedule = definitions.resolve_schedule_def("clientele_nightly_schedule")
    at = dt.datetime(2026, 7, 1, 2, 0, tzinfo=dt.UTC)
    request = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=at))
    [run] = request.run_requests
    assert run.run_config["resources"]["night"]["config"]["as_of"] == "2026-06-30"
    assert run.tags["clientele/as_of"] == "2026-06-30"


def test_no_asset_claims_a_partition_it_does_not_keep(definitions):
    """The warehouse holds one as-of date at a time: assets are not partitioned, the date is
    run configuration, and a backfill is its own job."""
    graph = definitions.resolve_asset_graph()
    assert not [key for key in graph.get_all_asset_keys() if graph.get(key).is_partitioned]
    nightly = definitions.resolve_job_def("clientele_nightly")
    assert "night" in nightly.resource_defs
    assert definitions.resolve_job_def("clientele_backfill").tags == nightly.tags


def test_new_files_sensor_targets_the_nightly_job(definitions):
    sensor = definitions.resolve_sensor_def("new_raw_files_sensor")
    assert sensor.job_name == "clientele_nightly"


def test_dbt_tests_are_asset_checks(definitions):
    graph = definitions.resolve_asset_graph()
    checks = {key.name for key in graph.asset_check_keys}
    assert "unique_int_customers_customer_id" in checks
    assert "gx_raw_reconciliation" in checks


def test_python_checks_are_only_what_python_alone_knows(definitions, manifest):
    """Every check is a dbt test, a Great Expectations suite (gx_*) or one of the few Python
    checks that need the run's own state (expectations/README.md, "Where a check lives")."""
    dbt_tests = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "test"}
    checks = definitions.resolve_asset_graph().asset_check_keys
    python = {
        (key.asset_key.to_user_string(), key.name)
        for key in checks
        if not key.name.startswith("gx_") and key.name not in dbt_tests
    }
    assert {name for _, name in python} == {"imported_rows_used"}
    assert len(python) == len(SOURCES)  # one per source


def test_dbt_resource_skips_what_clientele_does_not_use():
    """Each dbt step saves a ``dbt --version`` run and an in-process dbt adapter (seconds of
    fixed cost a night). Both are dagster-dbt internals: an upgrade that renames them must
    fail here rather than silently bring the cost back."""
    from importlib.metadata import version

    from dagster_dbt import DbtCliResource

    from orchestration.dbt import dbt_cli

    for hook in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert hasattr(DbtCliResource, hook), f"dagster-dbt no longer has {hook}"
    resource = dbt_cli()
    assert str(resource._cli_version) == version("dbt-core")
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def invocation_of(node: dict) -> str | None:
    """Which of the night's two dbt invocations builds a model or seed, from its folder."""
    from orchestration.defs import transform

    group = transform.FOLDERS.get(transform.folder_of(node))
    if group in transform.BEFORE_CLV_GROUPS:
        return "dbt_facts"
    if group in transform.AFTER_CLV_GROUPS:
        return "dbt_segments_and_marts"
    return None


def test_every_nightly_dbt_test_is_an_asset_check(definitions, manifest):
    """A dbt test that runs at night shows in Dagster as a check, including those that read
    models of both dbt invocations (int_scorecard_customers' relationship to
    int_customer_facts): those run in, and are checks of, the second one."""
    from orchestration.defs import transform

    nightly = {
        node["name"]: node["depends_on"]["nodes"]
        for unique_id, node in manifest["nodes"].items()
        if unique_id.startswith("test.")
        and tag(transform.SQL_ONLY_TESTS) not in node["config"].get("tags", [])
    }
    across = [
        name
        for name, parents in nightly.items()
        if {invocation_of(manifest["nodes"][p]) for p in parents if p in manifest["nodes"]}
        == {"dbt_facts", "dbt_segments_and_marts"}
    ]
    assert (
        "relationships_int_scorecard_customers_customer_id__customer_id__ref_int_customer_facts_"
        in across
    ), across
    checks = {key.name for key in definitions.resolve_asset_graph().asset_check_keys}
    assert set(nightly) - checks == set()
    second = {key.name for key in transform.dbt_segments_and_marts.check_keys}
    assert set(across) <= second


def test_every_dbt_model_and_seed_is_built_by_one_invocation(manifest):
    """The two invocations are chosen by folder: a model in a folder missing from
    transform.FOLDERS would never be built, and one in both would be built twice. Its group
    is its folder's."""
    from orchestration.defs import transform

    nodes = {
        unique_id: node
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed")
    }
    unplaced = {unique_id for unique_id, node in nodes.items() if invocation_of(node) is None}
    assert unplaced == set()
    built = {
        "dbt_facts": {key.path[-1] for key in transform.dbt_facts.keys},
        "dbt_segments_and_marts": {key.path[-1] for key in transform.dbt_segments_and_marts.keys},
    }
    for node in nodes.values():
        assert [name for name, keys in built.items() if node["name"] in keys] == [
            invocation_of(node)
        ], node["name"]
    assert sum(len(keys) for keys in built.values()) == len(nodes)


def test_a_models_group_is_its_folder(definitions, manifest):
    """staging -> staging; intermediate/<group> and marts/<group> -> <group>; seeds -> segments."""
    graph = definitions.resolve_asset_graph()
    expected = {
        ("staging", "stg_raw__orders"): "staging",
        ("intermediate", "int_customer_facts"): "facts",
        ("main", "customer_facts"): "facts",
        ("intermediate", "int_customer_segments"): "segments",
        ("main", "customer_segments"): "segments",
        ("intermediate", "int_scorecard_customers"): "scorecards",
        ("main", "kpi_monthly"): "scorecards",
        ("main", "segment_labels"): "segments",
    }
    assert {key: graph.get(dg.AssetKey(list(key))).group_name for key in expected} == expected
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model":
            folder = node["original_file_path"].split("/")
            assert node["schema"] == {"marts": "main"}.get(folder[1], folder[1]), node["name"]
