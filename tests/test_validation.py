"""Great Expectations validation (SPEC §8): suite files, results, Dagster checks, Data Docs.

The nightly run of the session ``pipeline`` already ran every suite as an asset check; these
tests read what it stored, re-run the blocking suites on its warehouse, and break a copy of
that warehouse on purpose to see the right expectation fail with the right count.
GE's import costs seconds, once per process; a suite then runs in a fraction of a second.
"""

from __future__ import annotations

import copy
import gc
import json
import re
import shutil
import time
import weakref
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from orchestration import quality
from orchestration.defs.quality import build_validation_checks, check_result
from orchestration.quality import gx
from orchestration.settings import EXPECTATIONS_DIR

BLOCKING = {
    "raw_reconciliation",
    "customer_facts",
    "customer_clv",
    "customer_segments",
    "customer_actions",
}
WARNINGS = {"quarantine_rate", "clv_backtest"}


@pytest.fixture(scope="module")
def suites() -> dict[str, quality.Suite]:
    return {s.name: s for s in quality.load_suites()}


def table_exists(con: duckdb.DuckDBPyConnection, asset: tuple[str, ...]) -> bool:
    schema, name = asset if len(asset) == 2 else ("main", asset[-1])
    rows = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return rows[0][0] > 0


def blocking_cases() -> list[tuple[str, tuple[str, ...]]]:
    return [(s.name, asset) for s in quality.load_suites() if s.blocking for asset in s.assets]


# ---------------------------------------------------------------------------------------------
# Suite files


def test_every_suite_file_loads_and_ge_accepts_every_expectation(suites):
    assert len(suites) == len(quality.suite_files())
    for suite in suites.values():
        quality.check_with_gx(suite)  # raises SuiteError naming file and expectation
    assert set(suites) >= BLOCKING | WARNINGS
    assert all(suites[n].blocking for n in BLOCKING)
    assert not any(suites[n].blocking for n in WARNINGS)
    assert len(suites["raw_reconciliation"].assets) == 7  # one per contract source


def test_the_readme_example_is_a_valid_suite(tmp_path):
    text = (EXPECTATIONS_DIR / "README.md").read_text(encoding="utf-8")
    example = text.split("## Example", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", example, re.S).group(1)
    path = tmp_path / "loyalty_scorecard.yml"
    path.write_text(block, encoding="utf-8")
    suite = quality.load_suite(path)
    quality.check_with_gx(suite)
    assert suite.blocking and suite.assets == (("main", "loyalty_scorecard"),)


VALID = """\
asset: main/customer_facts
severity: error
expectations:
  - type: expect_column_values_to_be_unique
    kwargs: {column: customer_id}
"""


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (VALID.replace("severity: error", "severity: fatal"), "severity", "must be one of"),
        (VALID.replace("asset: main/customer_facts\n", ""), "asset", "exactly one of"),
        (VALID.replace("main/customer_facts", "main/customer facts"), "asset", "each part"),
        (VALID + "    severity: high\n", "expectations[0].severity", "'high'"),
        (VALID + "    colour: red\n", "expectations[0].colour", "unknown key"),
        (VALID + "  - kwargs: {column: x}\n", "expectations[1].type", "not an expectation"),
        (
            VALID + "  - {type: expect_column_max_to_be_between, "
            "kwargs: {column: x, max_value: {$PARAMETER: no_such_var}}}\n",
            "expectations[1].kwargs",
            "no_such_var",
        ),
        ("asset: [main, customer_facts\n", "(file)", "cannot be read"),
        (VALID.replace("severity: error", "severity: error\nquery: select $who"), "query", "$who"),
    ],
)
def test_a_malformed_suite_names_its_file_and_key(tmp_path, text, key, problem):
    path = tmp_path / "broken_suite.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(quality.SuiteError) as error:
        quality.load_suite(path)
    message = str(error.value)
    assert "broken_suite.yml" in message and f": {key}: " in message and problem in message


def test_an_expectation_ge_does_not_know_is_named_by_file_and_index(tmp_path):
    path = tmp_path / "typo.yml"
    path.write_text(VALID.replace("to_be_unique", "to_be_uniqe"), encoding="utf-8")
    suite = quality.load_suite(path)  # the shape is fine: GE decides on the type
    with pytest.raises(quality.SuiteError, match=r"typo\.yml: expectations\[0\]: rejected"):
        quality.check_with_gx(suite)


def test_two_suites_with_one_name_are_refused(tmp_path):
    (tmp_path / "a.yml").write_text("suite: same\n" + VALID, encoding="utf-8")
    (tmp_path / "b.yml").write_text("suite: same\n" + VALID, encoding="utf-8")
    with pytest.raises(quality.SuiteError, match=r"b\.yml: suite: name 'same'"):
        quality.load_suites(tmp_path)


# ---------------------------------------------------------------------------------------------
# Dagster checks


def test_checks_attach_only_to_assets_that_exist(suites):
    @dg.asset(key=["raw", "orders"], group_name="ingest")
    def orders(): ...

    @dg.asset(key=["main", "customer_facts"], deps=[orders])
    def facts(): ...

    graph = dg.Definitions(assets=[orders, facts]).resolve_asset_graph()
    checks = build_validation_checks(graph, list(suites.values()))
    specs = {(s.asset_key.to_user_string(), s.name): s for c in checks for s in c.check_specs}
    assert set(specs) == {
        ("main/customer_facts", "gx_customer_facts"),
        ("raw/orders", "gx_raw_reconciliation"),
        ("raw/orders", "gx_quarantine_rate"),
    }
    assert specs[("main/customer_facts", "gx_customer_facts")].blocking
    assert specs[("raw/orders", "gx_raw_reconciliation")].blocking
    assert not specs[("raw/orders", "gx_quarantine_rate")].blocking

    # A suite for a table nobody defines yet is skipped without error.
    @dg.asset(key=["main", "nothing_here"])
    def nothing(): ...

    empty = dg.Definitions(assets=[nothing]).resolve_asset_graph()
    assert build_validation_checks(empty, list(suites.values())) == []


def test_the_suites_run_in_one_step_per_stage_of_the_flow():
    """A few GE steps a night (one session and at most one Data Docs build each), one per
    stage of the flow, instead of one per suite and asset; products, loaded before orders, have
    theirs. No step is split: the two dbt steps stay two dbt invocations."""
    from orchestration.definitions import defs

    job = defs().resolve_job_def("clientele_nightly")
    steps = sorted(
        n.name for n in job.graph.node_dict.values() if n.name.startswith(("gx_", "dbt_"))
    )
    assert steps == [
        "dbt_facts",
        "dbt_segments_and_marts",
        "gx_facts",
        "gx_ingest",
        "gx_ingest_upstream",
        "gx_marts",
        "gx_model",
        "gx_model_upstream",  # customer_clv, whose fit the backtest reads
    ]
    graph = defs().resolve_asset_graph()
    checks = {key.name for key in graph.asset_check_keys if key.name.startswith("gx_")}
    assert {"gx_customer_facts", "gx_raw_reconciliation", "gx_loyalty_scorecard"} <= checks


# ---------------------------------------------------------------------------------------------
# The nightly run and the pipeline's warehouse


def stored_results(docs_root: Path) -> list[dict]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in (docs_root / "gx" / "validations").rglob("*.json")
    ]


def test_the_nightly_run_validated_every_suite_and_wrote_data_docs(pipeline, warehouse, suites):
    results = stored_results(pipeline.data_docs)
    by_name: dict[str, list[bool]] = {}
    for result in results:
        by_name.setdefault(result["suite_name"], []).append(result["success"])
    for suite in suites.values():
        for asset in suite.assets:
            if not table_exists(warehouse, asset):
                continue  # the asset is being built elsewhere: its check is skipped
            name = suite.gx_name(asset)
            assert name in by_name, f"the nightly run did not validate {name}"
            if suite.blocking:
                assert all(by_name[name]), f"blocking suite {name} failed in the nightly run"
    index = pipeline.data_docs / "site" / "index.html"
    assert index.exists()
    assert "customer_facts" in index.read_text(encoding="utf-8")
    pages = list((pipeline.data_docs / "site" / "validations").rglob("*.html"))
    assert len(pages) >= len(by_name)


def case_id(value) -> str:
    return "/".join(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize(("name", "asset"), blocking_cases(), ids=case_id)
def test_every_blocking_suite_passes_on_the_pipeline_warehouse(warehouse, suites, name, asset):
    if not table_exists(warehouse, asset):
        pytest.skip(f"{'.'.join(asset)} is not built yet")
    result = quality.run_suite(suites[name], warehouse, asset=asset)
    assert result.success, quality.markdown_table(result, failed_only=True)
    assert result.rows > 0 and not result.skipped
    assert result.seconds < 30


def test_a_warning_suite_fails_as_a_warning(warehouse, suites):
    """The generated data is dirty, so a zero tolerance for quarantined rows must warn."""
    suite = suites["quarantine_rate"]
    result = quality.run_suite(
        suite, warehouse, asset=("raw", "orders"), overrides={"quarantine_max_rate": 0}
    )
    assert not result.success and result.passed_blocking
    outcome = result.outcome("expect_column_values_to_be_between", "quarantine_rate")
    assert outcome.unexpected_count == 1 and outcome.severity == "warning"
    assert outcome.samples[0]["source"] == "orders"
    check = check_result(suite, result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN


def test_a_shift_in_label_shares_since_the_previous_date_warns(writable_copy, suites):
    """Distribution drift (SPEC §8): the previous as-of date had every external customer
    lapsed; today's lifecycle shares moved by far more than drift_alert_points."""
    con, suite = writable_copy, suites["segment_drift"]
    assert quality.run_suite(suite, con).success  # one date: nothing to compare
    con.execute(
        """insert into intermediate.int_segment_history
           select * replace (as_of_date - 1 as as_of_date, 'lapsed' as lifecycle)
           from intermediate.int_segment_history"""
    )
    result = quality.run_suite(suite, con)
    assert not result.success and result.passed_blocking
    moved = result.outcome("expect_column_values_to_be_between", "moved_points")
    assert moved.unexpected_count >= 2 and {s["scheme"] for s in moved.samples} == {"lifecycle"}
    check = check_result(suite, result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN


def test_label_rules_are_skipped_while_the_seed_lacks_the_scheme(warehouse, suites, tmp_path):
    if not table_exists(warehouse, ("main", "customer_segments")):
        pytest.skip("customer_segments is not built yet")
    seed = tmp_path / "segment_labels.csv"
    seed.write_text("scheme,label\nrole,internal\nrole,external\n", encoding="utf-8")
    result = quality.run_suite(suites["customer_segments"], warehouse, seed=seed)
    skipped = {s.where for s in result.skipped}
    assert "lifecycle" in skipped and "role" not in skipped
    assert result.outcome("expect_column_values_to_be_in_set", "role").success
    assert result.success  # what could run passed; the rest is reported as skipped


# ---------------------------------------------------------------------------------------------
# A corrupted copy of the warehouse


@pytest.fixture
def writable_copy(pipeline, warehouse, tmp_path) -> duckdb.DuckDBPyConnection:
    """A writable copy of the pipeline's warehouse, to plant faults in."""
    copy = tmp_path / "clientele.duckdb"
    shutil.copy(pipeline.warehouse, copy)
    wal = pipeline.warehouse.with_name(pipeline.warehouse.name + ".wal")
    if wal.exists():
        shutil.copy(wal, copy.with_name(copy.name + ".wal"))
    con = duckdb.connect(str(copy))
    yield con
    con.close()


@pytest.fixture
def corrupted(writable_copy) -> tuple[duckdb.DuckDBPyConnection, dict]:
    """A copy of the pipeline's warehouse with planted faults, and what was planted."""
    con = writable_copy
    ids = [r[0] for r in con.execute(
        "select customer_id from model.customer_clv order by customer_id limit 3"
    ).fetchall()]  # fmt: skip
    duplicated, impossible, not_a_number = ids
    file = con.execute(
        "select _file from raw.orders group by 1 having count(*) >= 3 order by 1 limit 1"
    ).fetchall()[0][0]
    con.execute(
        "insert into intermediate.int_customer_facts "
        "select * from intermediate.int_customer_facts where customer_id = ?",
        [duplicated],
    )
    con.execute("update model.customer_clv set p_alive = 1.5 where customer_id = ?", [impossible])
    con.execute(
        "update model.customer_clv set clv_12m = 'NaN'::double where customer_id = ?",
        [not_a_number],
    )
    con.execute(
        "delete from raw.orders where rowid in "
        "(select rowid from raw.orders where _file = ? limit 2)",
        [file],
    )
    yield (
        con,
        {
            "duplicated": duplicated,
            "impossible": impossible,
            "not_a_number": not_a_number,
            "file": file,
        },
    )


def test_a_corrupted_warehouse_fails_its_blocking_suites(corrupted, suites, tmp_path):
    con, planted = corrupted
    docs = tmp_path / "data_docs"

    facts = quality.run_suite(suites["customer_facts"], con, docs_root=docs)
    assert not facts.passed_blocking
    unique = facts.outcome("expect_column_values_to_be_unique", "customer_id")
    assert unique.unexpected_count == 2
    assert {s["customer_id"] for s in unique.samples} == {planted["duplicated"]}
    assert len(facts.failed) == 1

    clv = quality.run_suite(suites["customer_clv"], con, docs_root=docs)
    p_alive = clv.outcome("expect_column_values_to_be_between", "p_alive")
    assert p_alive.unexpected_count == 1
    assert p_alive.samples == ({"customer_id": planted["impossible"], "p_alive": 1.5},)
    nan = clv.outcome("expect_column_values_to_be_between", "clv_12m")
    assert nan.unexpected_count == 1
    assert nan.samples == ({"customer_id": planted["not_a_number"], "clv_12m": "NaN"},)
    assert clv.outcome("expect_column_values_to_not_be_null", "clv_12m").success  # NaN ≠ NULL
    # the duplicated fact shows here too: one clv row per customer fact no longer holds
    assert clv.outcome("expect_column_values_to_be_unique", "customer_id").unexpected_count == 2

    raw = quality.run_suite(
        suites["raw_reconciliation"], con, asset=("raw", "orders"), docs_root=docs
    )
    staged = raw.outcome(
        "expect_column_pair_values_to_be_equal", "rows_staged vs rows_in_raw_table"
    )
    assert staged.unexpected_count == 1 and staged.samples[0]["file"] == planted["file"]
    assert staged.samples[0]["rows_staged"] - staged.samples[0]["rows_in_raw_table"] == 2

    # What the Dagster check reports: failed, ERROR (blocks), the numbers to act on.
    check = check_result(suites["customer_clv"], clv)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    table = check.metadata["failed_expectations"].value
    assert "p_alive" in table and planted["impossible"] in table
    assert check.metadata["expectations_failed"].value == len(clv.failed) == 3
    page = Path(check.metadata["data_docs"].value)
    assert page.suffix == ".html" and page.is_file() and page.is_relative_to(docs)
    assert (docs / "site" / "index.html").is_file()
    html = page.read_text(encoding="utf-8")
    assert "p_alive" in html and "1.5" in html and planted["duplicated"] in html


def test_a_missing_table_is_a_clear_frame_error(corrupted, suites):
    con, _ = corrupted
    con.execute("drop table model.customer_clv")
    with pytest.raises(quality.FrameError, match=r"customer_clv\.yml: reading the frame"):
        quality.run_suite(suites["customer_clv"], con)
    suite = quality.Suite(
        name="nope",
        path=EXPECTATIONS_DIR / "nope.yml",
        assets=(("main", "customer_nope"),),
        blocking=True,
        expectations=suites["customer_facts"].expectations[:1],
    )
    with pytest.raises(quality.FrameError, match="main.customer_nope is not in the warehouse"):
        quality.run_suite(suite, con)


def test_the_suites_catch_what_the_python_checks_caught(writable_copy, suites):
    """rows_reconcile, clv_values_valid and backtest_error_within_threshold were Python checks
    repeating these suites; the suites catch each of their faults, at the same severity."""
    con = writable_copy
    clv_id, null_id = [r[0] for r in con.execute(
        "select customer_id from model.customer_clv order by customer_id limit 2"
    ).fetchall()]  # fmt: skip
    con.execute(
        "update model.customer_clv set expected_occasions_12m = 'inf'::double "
        "where customer_id = ?",
        [clv_id],
    )
    con.execute("update model.customer_clv set p_alive = null where customer_id = ?", [null_id])
    clv = quality.run_suite(suites["customer_clv"], con)
    infinite = clv.outcome("expect_column_values_to_be_between", "expected_occasions_12m")
    assert infinite.samples == ({"customer_id": clv_id, "expected_occasions_12m": "inf"},)
    missing = clv.outcome("expect_column_values_to_not_be_null", "p_alive")
    assert missing.unexpected_count == 1 and missing.samples[0]["customer_id"] == null_id
    assert check_result(suites["customer_clv"], clv).severity == dg.AssetCheckSeverity.ERROR

    # rows read = staged + quarantined, as recorded (what data_quality.files_not_reconciling counts)
    file = con.execute(
        "select file from raw.reconciliation where source = 'customers' order by file limit 1"
    ).fetchall()[0][0]
    con.execute("update raw.reconciliation set rows_read = rows_read + 1 where file = ?", [file])
    raw = quality.run_suite(suites["raw_reconciliation"], con, asset=("raw", "customers"))
    read = raw.outcome(
        "expect_column_pair_values_to_be_equal", "rows_read vs rows_staged_plus_quarantined"
    )
    assert read.unexpected_count == 1 and read.samples[0]["file"] == file
    assert check_result(suites["raw_reconciliation"], raw).severity == dg.AssetCheckSeverity.ERROR

    backtest = suites["clv_backtest"]
    con.execute("update model.clv_backtest_summary set total_error_pct = -15.5")
    result = quality.run_suite(backtest, con, overrides={"backtest_max_error_pct": 15})
    check = check_result(backtest, result)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "abs_total_error_pct" in check.description and "15.5" in check.description
    assert quality.run_suite(backtest, con, overrides={"backtest_max_error_pct": 16}).success
    con.execute("update model.clv_backtest_summary set total_error_pct = null")
    unknown = quality.run_suite(backtest, con).outcome(
        "expect_column_values_to_be_in_set", "error_known_if_backtested"
    )
    assert not unknown.success and unknown.severity == "warning"


def failing_rows(result: quality.SuiteResult, expectation: str, where: str) -> list[dict]:
    """The samples of a failed expectation (its unexpected rows, by row_id)."""
    outcome = result.outcome(expectation, where)
    assert not outcome.success, f"{result.suite}: {expectation} on {where} passed"
    return list(outcome.samples)


def test_the_suites_catch_what_the_dbt_tests_caught(writable_copy, suites):
    """dbt tests that repeated a suite on the same table (keys, label sets, ranges, shares and
    totals) are gone; a fault each of them caught fails the suite, blocking."""
    con = writable_copy
    ids = [r[0] for r in con.execute(
        "select customer_id from intermediate.int_customer_segments order by customer_id limit 3"
    ).fetchall()]  # fmt: skip
    bogus, unlabelled, copied = ids

    # customer_segments: a label outside its set, a missing label, a row that is no fact
    con.execute(
        "update intermediate.int_customer_segments set lifecycle = 'bogus' where customer_id = ?",
        [bogus],
    )
    con.execute(
        "update intermediate.int_customer_segments set ten_types = null where customer_id = ?",
        [unlabelled],
    )
    con.execute(
        "insert into intermediate.int_customer_segments select * replace "
        "('not_a_customer' as customer_id) from intermediate.int_customer_segments "
        "where customer_id = ?",
        [copied],
    )
    segments = quality.run_suite(suites["customer_segments"], con)
    samples = failing_rows(segments, "expect_column_values_to_be_in_set", "lifecycle")
    assert [s["customer_id"] for s in samples] == [bogus]
    samples = failing_rows(segments, "expect_column_values_to_not_be_null", "ten_types")
    assert [s["customer_id"] for s in samples] == [unlabelled]
    samples = failing_rows(segments, "expect_column_values_to_not_be_null", "fact_customer_id")
    assert [s["customer_id"] for s in samples] == ["not_a_customer"]

    # customer_actions: an action outside its set, a customer twice
    con.execute(
        "update intermediate.int_customer_actions set action = 'bogus' where customer_id = ?",
        [bogus],
    )
    con.execute(
        "insert into intermediate.int_customer_actions "
        "select * from intermediate.int_customer_actions where customer_id = ?",
        [copied],
    )
    actions = quality.run_suite(suites["customer_actions"], con)
    samples = failing_rows(actions, "expect_column_values_to_be_in_set", "action")
    assert [s["customer_id"] for s in samples] == [bogus]
    samples = failing_rows(actions, "expect_column_values_to_be_unique", "customer_id")
    assert [s["customer_id"] for s in samples] == [copied, copied]

    # customer_scorecard: a missing role
    con.execute("update main.customer_scorecard set role = null where customer_id = ?", [bogus])
    scorecard = quality.run_suite(suites["customer_scorecard"], con)
    samples = failing_rows(scorecard, "expect_column_values_to_not_be_null", "role")
    assert [s["customer_id"] for s in samples] == [bogus]

    # kpi_monthly: a month twice, a negative rate
    first, second = [r[0] for r in con.execute(
        "select month from main.kpi_monthly order by month limit 2"
    ).fetchall()]  # fmt: skip
    con.execute("update main.kpi_monthly set month = ? where month = ?", [first, second])
    con.execute("update main.kpi_monthly set churn_rate = -0.1 where month = ?", [first])
    kpi = quality.run_suite(suites["kpi_monthly"], con)
    assert len(failing_rows(kpi, "expect_column_values_to_be_unique", "month")) == 2
    assert len(failing_rows(kpi, "expect_column_values_to_be_between", "churn_rate")) == 2

    # cohort_retention: a (cohort, month) twice, a row without its cohort
    con.execute(
        "insert into main.cohort_retention select * from main.cohort_retention "
        "where months_since_first = 1 order by cohort_month limit 1"
    )
    con.execute(
        "update main.cohort_retention set cohort_month = null where months_since_first = 2 and "
        "cohort_month = (select min(cohort_month) from main.cohort_retention)"
    )
    cohorts = quality.run_suite(suites["cohort_retention"], con)
    key = "cohort_month, activity_month"
    assert failing_rows(cohorts, "expect_compound_columns_to_be_unique", key)
    assert len(failing_rows(cohorts, "expect_column_values_to_not_be_null", "cohort_month")) == 1

    # whale_curve: a point without its percentile, a total that is not the facts' total
    con.execute("update main.whale_curve set percentile = null where percentile = 50")
    con.execute(
        "update main.whale_curve set total_contribution_12m = total_contribution_12m + 0.01"
    )
    whale = quality.run_suite(suites["whale_curve"], con)
    assert len(failing_rows(whale, "expect_column_values_to_not_be_null", "percentile")) == 1
    assert failing_rows(whale, "expect_column_values_to_be_between", "total_difference")

    # loyalty_scorecard: no internal row, a share missing, a label twice
    con.execute("delete from main.loyalty_scorecard where label = 'internal'")
    con.execute(
        "update main.loyalty_scorecard set share = null "
        "where scheme = 'lifecycle' and label = 'new'"
    )
    con.execute(
        "insert into main.loyalty_scorecard select * from main.loyalty_scorecard "
        "where scheme = 'ten_types' order by customers desc limit 1"
    )
    loyalty = quality.run_suite(suites["loyalty_scorecard"], con)

    def groups(where: str) -> set[tuple[str, str]]:
        rows = failing_rows(loyalty, "expect_column_values_to_be_between", where)
        return {(s["scheme"], s["scope"]) for s in rows}

    assert groups("customers_difference") == {("total", "internal"), ("ten_types", "external")}
    assert groups("shares_missing") == {("lifecycle", "external")}
    assert groups("labels_repeated") == {("ten_types", "external")}

    # profitability_scorecard: no `all` row, a scheme's revenue a cent off
    con.execute("delete from main.profitability_scorecard where label = 'all'")
    con.execute(
        "update main.profitability_scorecard set revenue_12m = revenue_12m + 0.01 "
        "where scheme = 'rfm_segment' and label = 'champions'"
    )
    profitability = quality.run_suite(suites["profitability_scorecard"], con)
    revenue = failing_rows(
        profitability, "expect_column_values_to_be_between", "revenue_12m_difference"
    )
    assert {(s["scheme"], s["scope"]) for s in revenue} == {
        ("total", "external"),
        ("rfm_segment", "external"),
    }
    for result in (segments, actions, scorecard, kpi, cohorts, whale, loyalty, profitability):
        assert not result.passed_blocking, result.suite


# ---------------------------------------------------------------------------------------------
# pandas 3 frames: GE 1.24 on the dtypes DuckDB hands over


def test_ge_on_pandas_3_keeps_null_and_nan_apart(tmp_path):
    table = pa.table(
        {
            "id": ["a", "b", "c", "d", "e"],
            "rate": pa.array([0.5, None, float("nan"), float("inf"), 1.0]),
            "count": pa.array([1, None, 3, -1, 0], pa.int64()),
            "flag": pa.array([True, None, False, True, True]),
            "label": ["x", "y", None, "x", "z"],
        }
    )
    frame = quality.to_pandas(table)
    assert isinstance(frame["rate"].dtype, pd.ArrowDtype)
    path = tmp_path / "frame.yml"
    path.write_text(
        """\
asset: main/frame
severity: error
row_id: id
expectations:
  - {type: expect_column_values_to_be_between, kwargs: {column: rate, min_value: 0, max_value: 1}}
  - {type: expect_column_values_to_not_be_null, kwargs: {column: rate}}
  - {type: expect_column_values_to_be_between, kwargs: {column: count, min_value: 0}}
  - {type: expect_column_values_to_be_in_set, kwargs: {column: label, value_set: [x, y]}}
  - {type: expect_column_values_to_be_in_set, kwargs: {column: flag, value_set: [true]}}
  - {type: expect_column_values_to_be_unique, kwargs: {column: id}}
""",
        encoding="utf-8",
    )
    suite = quality.load_suite(path)
    started = time.perf_counter()
    result = quality.validate_frame(frame, suite, docs_root=tmp_path / "docs")
    assert time.perf_counter() - started < 30
    counts = {(o.where, o.type): (o.unexpected_count, o.samples) for o in result.outcomes}
    nan_inf = [{"id": "c", "rate": "NaN"}, {"id": "d", "rate": "inf"}]
    assert counts[("rate", "expect_column_values_to_be_between")] == (2, tuple(nan_inf))
    null = ({"id": "b", "rate": None},)
    assert counts[("rate", "expect_column_values_to_not_be_null")] == (1, null)
    assert counts[("count", "expect_column_values_to_be_between")][0] == 1
    assert counts[("label", "expect_column_values_to_be_in_set")][0] == 1
    assert counts[("flag", "expect_column_values_to_be_in_set")][0] == 1
    assert counts[("id", "expect_column_values_to_be_unique")][0] == 0
    assert result.data_docs is not None and result.data_docs.is_file()


def test_repeated_text_is_validated_as_categories(tmp_path):
    """Labels (few distinct values) become categorical; ids stay text: same outcomes."""
    labels = ["new", "loyal", "new", "lost", "loyal", "bogus", "new", "new"]
    with_null = ["new", "loyal", None, "lost", "loyal", "lost", "new", "new"]
    ids = [f"c{i}" for i in range(len(labels))]
    table = pa.table({"id": ids, "label": labels, "tier": with_null})
    frame = quality.to_pandas(pa.concat_tables([table.slice(0, 3), table.slice(3)]))
    assert isinstance(frame["label"].dtype, pd.CategoricalDtype)
    assert frame["id"].dtype == pd.ArrowDtype(pa.string())
    assert frame["tier"].dtype == pd.ArrowDtype(pa.string())  # NULL: stays text
    path = tmp_path / "labels.yml"
    path.write_text(
        """\
asset: main/labels
severity: error
row_id: id
expectations:
  - type: expect_column_values_to_be_in_set
    kwargs: {column: label, value_set: [new, loyal, lost]}
  - {type: expect_column_values_to_not_be_null, kwargs: {column: tier}}
  - {type: expect_column_values_to_be_unique, kwargs: {column: id}}
""",
        encoding="utf-8",
    )
    result = quality.validate_frame(frame, quality.load_suite(path))
    counts = {o.type: (o.unexpected_count, o.samples) for o in result.outcomes}
    assert counts["expect_column_values_to_be_in_set"] == (1, ({"id": "c5", "label": "bogus"},))
    assert counts["expect_column_values_to_not_be_null"] == (1, ({"id": "c2", "tier": None},))
    assert counts["expect_column_values_to_be_unique"][0] == 0


TINY = """\
asset: main/tiny
severity: error
row_id: id
expectations:
  - {type: expect_column_values_to_be_unique, kwargs: {column: id}}
"""


def tiny_suite(tmp_path: Path) -> quality.Suite:
    path = tmp_path / "tiny.yml"
    path.write_text(TINY, encoding="utf-8")
    return quality.load_suite(path)


def test_data_docs_keep_the_latest_results_of_each_suite(tmp_path, monkeypatch):
    monkeypatch.setattr(gx, "KEEP_RESULTS_PER_SUITE", 2)
    suite, frame, docs = tiny_suite(tmp_path), pd.DataFrame({"id": ["a", "b"]}), tmp_path / "docs"
    pages = [
        quality.validate_frame(frame, suite, docs_root=docs, run_name=f"night{n}").data_docs
        for n in range(3)
    ]
    assert len(stored_results(docs)) == 2
    assert pages[-1].is_file()


def test_a_data_docs_failure_does_not_fail_the_validation(tmp_path, monkeypatch):
    suite, docs = tiny_suite(tmp_path), tmp_path / "docs"

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(gx, "_render_docs", broken)
    result = quality.validate_frame(pd.DataFrame({"id": ["a", "a"]}), suite, docs_root=docs)
    assert not result.success and result.failed[0].unexpected_count == 2
    assert result.data_docs is None and "disk full" in result.docs_error
    assert check_result(suite, result).metadata["data_docs_error"].value == result.docs_error


def test_the_private_ge_pieces_clientele_uses_still_exist(tmp_path):
    """orchestration/quality/gx.py names the two pieces of GE it reaches beyond the public
    API; an upgrade that moves either must fail here, not silently stop Data Docs."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    with quality.GxSession(tmp_path / "docs", "probe") as session:
        store = session.context.validation_results_store
        assert callable(store.list_keys) and callable(store.remove_key)
        session.validate(
            pd.DataFrame({"id": ["a"]}), tiny_suite(tmp_path), "tiny", ("main", "t"), {}, {}
        )
        [key] = store.list_keys()
        assert key.expectation_suite_identifier == ExpectationSuiteIdentifier("tiny")
        pages, error = session.build_docs()
    assert error is None and pages["tiny"].is_file()


@pytest.mark.parametrize("with_docs", [False, True], ids=["in memory", "data docs"])
def test_a_validated_frame_is_not_kept_after_the_check(tmp_path, with_docs):
    """GE's process-wide context would keep each suite's last frame (gigabytes for millions of
    customers) alive through the steps that follow; the frame must be freed with the check."""
    suite, frame = tiny_suite(tmp_path), pd.DataFrame({"id": ["a", "b"]})
    docs = tmp_path / "docs" if with_docs else None
    alive = weakref.ref(frame)
    assert quality.validate_frame(frame, suite, docs_root=docs).success
    del frame
    gc.collect()
    assert alive() is None


# ---------------------------------------------------------------------------------------------
# One home per check (expectations/README.md, "Where a check lives"): a property of a table is
# tested by a dbt data test or by a Great Expectations suite, never by both.

# The dbt generic tests and GE expectations that assert the same property of a column (or of
# a set of columns, for a key).
DBT_PROPERTIES = {
    "unique": "unique",
    "unique_combination": "unique",
    "not_null": "not null",
    "accepted_values": "in a set",
    "non_negative": "in a range",
    "positive": "in a range",
    "relationships": "references",
}
GE_PROPERTIES = {
    "expect_column_values_to_be_unique": "unique",
    "expect_compound_columns_to_be_unique": "unique",
    "expect_column_values_to_not_be_null": "not null",
    "expect_column_values_to_be_in_set": "in a set",
    "expect_column_values_to_be_between": "in a range",
}
# The "one row per customer fact" query of expectations/README.md: `fact_customer_id` not null
# says every row's customer_id is a customer_facts row, so that customer_id is not null and
# references customer_facts.
FACT_KEY = "fact_customer_id"
FACTS = ("main", "customer_facts")
# A mart that is `select * from` one model is that model under another name (customer_facts
# is a view of int_customer_facts): a test on either tests the same rows.
PROJECTION = re.compile(r"^\s*select\s+\*\s+from\s+\{\{\s*ref\('(\w+)'\)\s*\}\}\s*$", re.I)
COMMENTS = re.compile(r"--[^\n]*|\{#.*?#\}", re.S)

Property = tuple[tuple[str, str], frozenset[str], str]


def relations(manifest: dict) -> dict[str, tuple[str, str]]:
    """Each dbt model and seed (unique id) as the relation it stands for, a projection mart
    resolved to the model it projects."""
    nodes = {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed")
    }
    by_name = {node["name"]: uid for uid, node in nodes.items()}

    def resolve(uid: str) -> tuple[str, str]:
        node = nodes[uid]
        projected = PROJECTION.match(COMMENTS.sub("", node.get("raw_code") or ""))
        if projected and projected.group(1) in by_name:
            return resolve(by_name[projected.group(1)])
        return node["schema"], node["alias"] or node["name"]

    return {uid: resolve(uid) for uid in nodes}


def dbt_properties(manifest: dict) -> dict[Property, list[str]]:
    """(relation, columns, property) -> the dbt data tests asserting it."""
    relation_of = relations(manifest)
    found: dict[Property, list[str]] = {}
    for node in manifest["nodes"].values():
        meta = node.get("test_metadata") or {}
        prop = DBT_PROPERTIES.get(meta.get("name"))
        if node["resource_type"] != "test" or prop is None:
            continue
        model = node.get("attached_node")
        if model not in relation_of:
            continue  # a test on a source: no suite validates a source
        kwargs = meta.get("kwargs") or {}
        columns = kwargs.get("columns") or [node.get("column_name") or kwargs["column_name"]]
        if prop == "references":
            targets = [relation_of[p] for p in node["depends_on"]["nodes"] if p != model]
            prop = f"references {'.'.join(targets[0]) if targets else kwargs.get('to')}"
        key = (relation_of[model], frozenset(columns), prop)
        found.setdefault(key, []).append(f"dbt test {node['name']}")
    return found


def ge_properties(manifest: dict, suites: list[quality.Suite]) -> dict[Property, list[str]]:
    """(relation, columns, property) -> the GE expectations asserting it. A frame column is
    taken as the validated table's column of the same name (queries keep the names of the
    columns they pass through), the README's fact key as that table's customer_id."""
    relation_of = relations(manifest)
    canonical = {
        (node["schema"], node["alias"] or node["name"]): relation_of[uid]
        for uid, node in manifest["nodes"].items()
        if uid in relation_of
    }
    found: dict[Property, list[str]] = {}
    for suite in suites:
        for asset in suite.assets:
            table = tuple(suite.table_for(asset).split("."))
            relation = canonical.get(table, table)
            for e in suite.expectations:
                where = f"{quality.display_path(suite.path)} expectations[{e.index}]"
                prop = GE_PROPERTIES.get(e.type)
                if e.columns == [FACT_KEY] and prop == "not null":
                    facts = ".".join(canonical.get(FACTS, FACTS))
                    for fact_prop in ("not null", f"references {facts}"):
                        key = (relation, frozenset(["customer_id"]), fact_prop)
                        found.setdefault(key, []).append(where)
                elif prop is not None:
                    found.setdefault((relation, frozenset(e.columns), prop), []).append(where)
    return found


def checked_twice(manifest: dict, suites: list[quality.Suite]) -> list[str]:
    """Every (relation, columns, property) both a dbt test and a suite assert, with both."""
    dbt, ge = dbt_properties(manifest), ge_properties(manifest, suites)
    return [
        f"{'.'.join(relation)} ({', '.join(sorted(columns))}) {prop}: "
        + "; ".join(dbt[(relation, columns, prop)] + ge[(relation, columns, prop)])
        for relation, columns, prop in sorted(set(dbt) & set(ge), key=str)
    ]


@pytest.fixture(scope="module")
def manifest() -> dict:
    from orchestration import settings
    from orchestration.dbt import ensure_manifest

    settings.activate()  # dbt's parse needs CLIENTELE_HOME (the session's home when set)
    return json.loads(ensure_manifest().read_text(encoding="utf-8"))


def test_no_property_is_tested_by_both_dbt_and_great_expectations(manifest, suites):
    """Keys, label sets and ranges of the tables a suite validates live in its suite; the
    structure of the other dbt models lives in dbt tests. A mart and the intermediate it
    projects are one table."""
    assert checked_twice(manifest, list(suites.values())) == []


def test_a_dbt_test_repeating_a_suite_is_found(manifest, suites):
    """The guard itself: dbt tests planted on customer_facts (a view of int_customer_facts) and
    on customer_segments repeat what their suites assert, and are reported as such."""
    planted = copy.deepcopy(manifest)
    tests = {
        "unique_customer_facts_customer_id": ("customer_facts", "unique", {}),
        "relationships_customer_segments_customer_id": (
            "customer_segments",
            "relationships",
            {"to": "ref('int_customer_facts')", "field": "customer_id"},
        ),
    }
    for name, (model, test, kwargs) in tests.items():
        depends = [f"model.clientele.{model}"]
        if test == "relationships":
            depends.append("model.clientele.int_customer_facts")
        planted["nodes"][f"test.clientele.{name}"] = {
            "name": name,
            "resource_type": "test",
            "attached_node": f"model.clientele.{model}",
            "column_name": "customer_id",
            "test_metadata": {"name": test, "kwargs": {"column_name": "customer_id", **kwargs}},
            "depends_on": {"nodes": depends},
        }
    found = checked_twice(planted, list(suites.values()))
    assert found == [
        "intermediate.int_customer_facts (customer_id) unique: dbt test "
        "unique_customer_facts_customer_id; expectations/customer_facts.yml expectations[1]",
        "intermediate.int_customer_segments (customer_id) references "
        "intermediate.int_customer_facts: dbt test relationships_customer_segments_customer_id; "
        "expectations/customer_segments.yml expectations[1]",
    ]
