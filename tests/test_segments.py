"""Segments, actions and personality types (SPEC §5-§6) on the session pipeline's output.

The rule boundaries are dbt unit tests (models/intermediate/segments/**/*.yml, run by
tests/test_dbt_unit_tests.py); here: every scheme is a complete partition, reasons quote the
facts, the generator's planted archetypes are recovered, a threshold var moves exactly the
labels it governs, and segment_history is idempotent per as-of date.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from orchestration.segments import schemes
from orchestration.settings import DBT_PROJECT_DIR
from tests.conftest import AS_OF, run_dbt

SEEDS = DBT_PROJECT_DIR / "seeds"
SEGMENTS_DIR = DBT_PROJECT_DIR / "models" / "marts" / "segments"
SCHEMES = list(schemes.segment_schemes())
# (archetype, scheme, label) that must be recovered for at least 90% of the archetype.
REQUIRED_RECOVERY = [
    ("loyal", "lifecycle", "loyal"),
    ("lapsed", "lifecycle", "lapsed"),
    ("reborn", "lifecycle", "reborn"),
    ("one_time", "lifecycle", "one_time"),
    ("new", "lifecycle", "new"),
    ("prospect", "lifecycle", "prospect"),
    ("below_zero", "value_tier", "below_zero"),
    ("angry", "satisfaction", "angry"),
    ("enthusiast", "satisfaction", "enthusiast"),
    ("discount_hunter", "loyalty_type", "spurious_loyalty"),
    ("discount_hunter", "loyalty_driver", "discount"),
    ("let_go", "ten_types", "let_go"),
    ("employee", "role", "internal"),
]
TRUTH_COLUMNS = [
    "role",
    "lifecycle",
    "satisfaction",
    "value_tier",
    "loyalty_type",
    "loyalty_driver",
    "ten_types",
]


def seed_labels() -> dict[str, set[str]]:
    labels: dict[str, set[str]] = {}
    with open(SEEDS / "segment_labels.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            labels.setdefault(row["scheme"], set()).add(row["label"])
    return labels


@pytest.fixture(scope="module")
def segments(warehouse) -> pd.DataFrame:
    return warehouse.execute("select * from main.customer_segments").df()


@pytest.fixture(scope="module")
def facts(warehouse) -> pd.DataFrame:
    return warehouse.execute("select * from main.customer_facts").df()


def recovery_table(truth: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """For each archetype and each scheme its truth row names: the share that got that label."""
    merged = truth.merge(segments, on="customer_id", how="left", suffixes=("_truth", ""))
    rows = []
    for scheme in TRUTH_COLUMNS:
        claimed = merged[merged[f"{scheme}_truth"] != ""]
        for (archetype, expected), group in claimed.groupby(["archetype", f"{scheme}_truth"]):
            rows.append(
                {
                    "archetype": archetype,
                    "scheme": scheme,
                    "expected": expected,
                    "customers": len(group),
                    "share": (group[scheme] == expected).mean(),
                }
            )
    return pd.DataFrame(rows)


def test_one_segment_row_and_one_action_per_customer_fact(warehouse):
    counts = warehouse.execute(
        """select (select count(*) from main.customer_facts),
                  (select count(distinct customer_id) from main.customer_segments),
                  (select count(*) from main.customer_segments),
                  (select count(*) from main.customer_actions),
                  (select count(*) from main.customer_facts f
                   anti join main.customer_segments s using (customer_id))"""
    ).fetchone()
    facts, distinct, segments, actions, missing = counts
    assert facts > 0
    assert distinct == segments == actions == facts
    assert missing == 0


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_scheme_is_a_complete_partition(segments, scheme):
    allowed = seed_labels()[scheme]
    assert segments[scheme].notna().all()
    assert set(segments[scheme]) <= allowed, set(segments[scheme]) - allowed
    assert segments[f"{scheme}_reason"].str.len().gt(0).all()


def test_actions_and_drivers_use_allowed_labels(warehouse, segments):
    actions = warehouse.execute("select action, action_reason from main.customer_actions").df()
    assert set(actions["action"]) <= seed_labels()["action"]
    assert actions["action_reason"].str.len().gt(0).all()
    drivers = segments["loyalty_driver"]
    spurious = segments["loyalty_type"] == "spurious_loyalty"
    assert drivers[spurious].notna().all()
    assert drivers[~spurious].isna().all()
    assert set(drivers.dropna()) <= seed_labels()["loyalty_driver"]


def test_the_seed_and_the_dbt_accepted_values_agree(warehouse):
    """The yml's accepted_values (run as dbt tests) list exactly the seed's labels."""
    spec = yaml.safe_load((SEGMENTS_DIR / "customer_segments.yml").read_text(encoding="utf-8"))
    model = next(m for m in spec["models"] if m["name"] == "customer_segments")
    labels = seed_labels()
    for column in model["columns"]:
        for test in column.get("data_tests", []):
            if isinstance(test, dict) and "accepted_values" in test:
                values = set(test["accepted_values"]["arguments"]["values"])
                assert values == labels[column["name"]], column["name"]
    loaded = warehouse.execute("select count(*) from main.segment_labels").fetchone()[0]
    assert loaded == sum(len(v) for v in labels.values())


def test_reasons_quote_the_deciding_numbers(segments, facts):
    merged = segments.merge(facts, on="customer_id", suffixes=("", "_fact"))
    lapsed = merged[merged["lifecycle"] == "lapsed"]
    assert len(lapsed) > 0
    for row in lapsed.itertuples():
        assert f"recency {row.recency_days}d > max(120d, 3 × median gap" in row.lifecycle_reason
    loyal = merged[merged["lifecycle"] == "loyal"]
    for row in loyal.itertuples():
        assert f"occasions_24m {row.occasions_24m} ≥ 4" in row.lifecycle_reason
    below = merged[merged["value_tier"] == "below_zero"]
    assert len(below) > 0
    for row in below.itertuples():
        assert f"contribution_12m {row.contribution_12m:.2f} < 0" in row.value_tier_reason
    rfm = merged[merged["rfm_segment"] != "none"]
    for row in rfm.itertuples():
        assert row.rfm_segment_reason.startswith(f"R{row.r_score} F{row.f_score} M{row.m_score}")


def test_planted_archetypes_are_recovered(pipeline, segments):
    truth = pd.read_csv(pipeline.truth / "customers.csv", dtype=str, keep_default_na=False)
    table = recovery_table(truth, segments)
    print("\nrecovery of planted archetypes:\n" + table.to_string(index=False))
    shares = {(r.archetype, r.scheme, r.expected): r.share for r in table.itertuples()}
    failing = {key: shares.get(key) for key in REQUIRED_RECOVERY if shares.get(key, 0) < 0.9}
    assert not failing, f"recovery below 90%: {failing}\n{table.to_string(index=False)}"


def test_personality_types_and_advice(warehouse, facts):
    personality = warehouse.execute("select * from main.customer_personality").df()
    types = warehouse.execute("select personality_type from main.personality_types").df()
    assert set(personality["personality_type"]) <= set(types["personality_type"])
    assert personality["handling_advice"].str.len().gt(0).all()
    derived = personality[personality["personality_source"] != "rep"]
    expected = facts[(facts["orders_12m"] >= 3) & (facts["discount_share_12m"] >= 0.8)]
    assert set(derived["customer_id"]) == set(expected["customer_id"])
    assert (derived["personality_type"] == "price_breaker").all()
    tags = warehouse.execute(
        "select customer_id, personality_tags from main.customer_segments"
    ).df()
    listed = personality.groupby("customer_id")["personality_type"].apply(
        lambda s: ", ".join(sorted(s))
    )
    tagged = tags.set_index("customer_id")["personality_tags"]
    assert (tagged.reindex(listed.index) == listed).all()
    assert (tagged.drop(listed.index) == "").all()


def test_segment_history_holds_the_run_date(warehouse):
    rows = warehouse.execute(
        """select count(*), count(distinct customer_id), min(as_of_date), max(as_of_date)
           from main.segment_history"""
    ).fetchone()
    customers = warehouse.execute("select count(*) from main.customer_facts").fetchone()[0]
    assert rows == (customers, customers, AS_OF, AS_OF)


def test_segments_are_a_dagster_group_downstream_of_the_clv_model():
    from orchestration.definitions import defs

    graph = defs().resolve_asset_graph()
    segments = graph.get(dg.AssetKey(["main", "customer_segments"]))
    assert segments.group_name == "segments"
    upstream = set(graph.upstream_key_iterator(segments.key))
    assert any(key.path == ["model", "customer_clv"] for key in upstream)


# ----------------------------------------------------------- one extra dbt run on a copy

# instead of 90. Up to lapse_min_days (120) only repeat and one-time customers can become new:
# a lapsed, lost, reborn or loyal customer has a tenure above 120 days.
NEW_DAYS = 120


@pytest.fixture(scope="module")
def rebuilt(pipeline, tmp_path_factory) -> dict[str, pd.DataFrame]:
    """A copy of the warehouse rebuilt with new_days = NEW_DAYS; before the run its history
    gets a row of another date (must survive) and a stale row of AS_OF (must go)."""
    home = tmp_path_factory.mktemp("segments_var")
    (home / "warehouse").mkdir()
    for suffix in ("", ".wal"):
        source = Path(f"{pipeline.warehouse}{suffix}")
        if source.exists():
            shutil.copy(source, home / "warehouse" / source.name)
    database = home / "warehouse" / "clientele.duckdb"
    other_day = AS_OF - dt.timedelta(days=1)
    with duckdb.connect(str(database)) as con:
        before = con.execute("select * from main.customer_segments").df()
        before_actions = con.execute("select * from main.customer_actions").df()
        con.execute(
            """insert into intermediate.int_segment_history by name
               select ? as as_of_date, 'OTHER_DAY' as customer_id, 'loyal' as lifecycle
               union all
               select ? as as_of_date, 'STALE' as customer_id, 'loyal' as lifecycle""",
            [other_day, AS_OF],
        )
    run_dbt(
        home,
        "run",
        "--select",
        "fqn:clientele.intermediate.segments.schemes",  # the rules, views holding the vars
        "int_customer_segments",
        "int_customer_actions",
        "int_segment_history",
        variables={"as_of": AS_OF.isoformat(), "new_days": NEW_DAYS},
        timeout=300,
    )
    with duckdb.connect(str(database), read_only=True) as con:
        return {
            "before": before,
            "after": con.execute("select * from main.customer_segments").df(),
            "before_actions": before_actions,
            "after_actions": con.execute("select * from main.customer_actions").df(),
            "history": con.execute("select * from main.segment_history").df(),
        }


def test_a_threshold_var_changes_its_labels_and_no_others(rebuilt, facts):
    before = rebuilt["before"].set_index("customer_id").sort_index()
    after = rebuilt["after"].set_index("customer_id").sort_index()
    tenure = facts.set_index("customer_id")["tenure_days"].reindex(before.index)
    moved = (tenure >= 90) & (tenure < NEW_DAYS)
    assert moved.sum() > 0, "no customer with a tenure between the old and new threshold"
    assert (after.loc[moved, "lifecycle"] == "new").all()
    assert before.loc[moved, "lifecycle"].isin(["repeat", "one_time"]).all()
    assert (after.loc[~moved, "lifecycle"] == before.loc[~moved, "lifecycle"]).all()
    is_new = after["lifecycle"] == "new"
    assert after.loc[is_new, "lifecycle_reason"].str.endswith(f"< new_days {NEW_DAYS}").all()
    labels = [s for s in SCHEMES if s != "lifecycle"] + ["loyalty_driver", "r_score", "f_score"]
    pd.testing.assert_frame_equal(before[labels], after[labels])
    # Reasons that do not mention the lifecycle are untouched too.
    for reason in ["value_tier_reason", "loyalty_type_reason", "satisfaction_reason"]:
        assert (before[reason] == after[reason]).all(), reason
    actions_before = rebuilt["before_actions"].set_index("customer_id").sort_index()
    actions_after = rebuilt["after_actions"].set_index("customer_id").sort_index()
    changed = actions_before["action"] != actions_after["action"]
    assert set(changed[changed].index) <= set(moved[moved].index)
    assert (actions_after.loc[changed[changed].index, "action"] == "onboard").all()


def test_segment_history_replaces_its_date_and_keeps_the_others(rebuilt):
    history = rebuilt["history"]
    history["as_of_date"] = pd.to_datetime(history["as_of_date"]).dt.date
    today = history[history["as_of_date"] == AS_OF]
    assert len(today) == len(rebuilt["after"])
    assert "STALE" not in set(today["customer_id"])
    assert not history.duplicated(["as_of_date", "customer_id"]).any()
    assert list(history.loc[history["as_of_date"] != AS_OF, "customer_id"]) == ["OTHER_DAY"]
    relabelled = today.merge(rebuilt["after"], on="customer_id", suffixes=("", "_now"))
    assert (relabelled["lifecycle"] == relabelled["lifecycle_now"]).all()
