"""KPIs and scorecards (SPEC §7) on the session pipeline's output.

The shapes that need hand-made inputs (the whale curve's peak and tail, migration against the
previous date) are dbt unit tests in models/marts/scorecards/_scorecards.yml (run by
tests/test_dbt_unit_tests.py); here: totals reconcile with customer_facts to the cent, shares
partition each scheme, the whale curve and the monthly KPIs agree with an independent
computation from the facts, and segment migration counts the label moves of a second as-of date.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.config import product_vars
from orchestration.ingest.contract import PII_COLUMNS
from orchestration.publish.report import rows as records  # dicts of Python values: exact Decimals
from tests.conftest import AS_OF, run_dbt

LOYALTY_SCHEMES = [
    "lifecycle",
    "loyalty_type",
    "loyalty_ladder",
    "satisfaction",
    "ten_types",
    "buying_centre_action",
]
ROLE_COLUMNS = {
    "wallet": "wallets",
    "ally": "allies",
    "internal": "internal_contacts",
    "windbag": "windbags",
    "unknown": "unknown_contacts",
}
PROFITABILITY_SCHEMES = ["value_tier", "rfm_segment", "ten_types"]
MONEY = {
    "loyalty_scorecard": ["revenue_12m"],
    "profitability_scorecard": [
        "revenue_12m",
        "gross_margin_12m",
        "cost_to_serve_12m",
        "contribution_12m",
    ],
}


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """A query as a DataFrame (decimals become floats: compare money with ``records``)."""
    return con.execute(sql, params or []).df()


@pytest.fixture(scope="module")
def facts(warehouse) -> pd.DataFrame:
    return frame(warehouse, "select * from main.customer_facts")


def fact_sums(warehouse, column: str, internal: bool) -> tuple[Decimal, int]:
    """Σ column and the number of customers over customer_facts, straight from the facts."""
    where = "is_employee" if internal else "is_employee is not true"
    total, customers = warehouse.execute(
        f"select sum({column}), count(*) from main.customer_facts where {where}"
    ).fetchone()
    return total, customers


@pytest.mark.parametrize("table", ["loyalty_scorecard", "profitability_scorecard"])
@pytest.mark.parametrize("label", ["all", "internal"])
def test_total_rows_equal_fact_sums_to_the_cent(warehouse, table, label):
    internal = label == "internal"
    for column in MONEY[table]:
        value, customers = warehouse.execute(
            f"select {column}, customers from main.{table} where scheme = 'total' and label = ?",
            [label],
        ).fetchone()
        expected, expected_customers = fact_sums(warehouse, column, internal)
        assert isinstance(value, Decimal), f"{table}.{column} must stay an exact decimal"
        assert value == expected, f"{table} {label} {column}: {value} != Σ facts {expected}"
        assert customers == expected_customers
    assert expected_customers > 0, f"the generated data has no {label} customers"


@pytest.mark.parametrize(
    "table,schemes",
    [("loyalty_scorecard", LOYALTY_SCHEMES), ("profitability_scorecard", PROFITABILITY_SCHEMES)],
)
def test_every_scheme_adds_up_to_the_total(warehouse, table, schemes):
    money = ", ".join(f"sum({c}) as {c}" for c in MONEY[table])
    totals = records(
        warehouse,
        f"""select scheme, sum(customers) as customers, {money} from main.{table}
            where scheme != 'total' group by scheme""",
    )
    assert sorted(t["scheme"] for t in totals) == sorted(schemes)
    total = records(
        warehouse, f"select * from main.{table} where scheme = 'total' and label = 'all'"
    )[0]
    for row in totals:
        for column in ["customers", *MONEY[table]]:
            assert row[column] == total[column], (row["scheme"], column)


@pytest.mark.parametrize(
    "table,share_columns",
    [
        ("loyalty_scorecard", ["share", "revenue_share"]),
        ("profitability_scorecard", ["share", "contribution_share"]),
    ],
)
def test_shares_within_unit_interval_and_summing_to_one_per_scheme(warehouse, table, share_columns):
    scorecard = frame(warehouse, f"select * from main.{table} where label != 'internal'")
    assert scorecard["share"].between(0, 1).all()
    for scheme, rows in scorecard.groupby("scheme"):
        for column in share_columns:
            assert rows[column].sum() == pytest.approx(1.0, abs=1e-9), (scheme, column)
    internal = frame(warehouse, f"select * from main.{table} where label = 'internal'")
    assert internal[share_columns].isna().all().all(), "internal customers are not a share"


def test_every_label_of_the_seed_is_listed_once(warehouse):
    labels = frame(warehouse, "select scheme, label from main.segment_labels")
    for table, schemes in [
        ("loyalty_scorecard", LOYALTY_SCHEMES),
        ("profitability_scorecard", PROFITABILITY_SCHEMES),
    ]:
        scorecard = frame(warehouse, f"select scheme, label from main.{table}")
        assert not scorecard.duplicated().any()
        for scheme in schemes:
            expected = set(labels.loc[labels["scheme"] == scheme, "label"])
            assert set(scorecard.loc[scorecard["scheme"] == scheme, "label"]) == expected


def test_loyalty_metrics_follow_their_definitions(warehouse, facts):
    segments = frame(
        warehouse, "select customer_id, role, lifecycle, nps_group from main.customer_segments"
    )
    customers = facts.merge(segments, on="customer_id")
    external = customers[customers["role"] == "external"]
    total = frame(
        warehouse, "select * from main.loyalty_scorecard where scheme = 'total' and label = 'all'"
    ).iloc[0]
    buyers = external[external["occasions"] >= 1]
    assert total["repeat_rate"] == pytest.approx((buyers["occasions"] >= 2).mean())
    prior = external[external["occasions_24m"] - external["occasions_12m"] > 0]
    assert total["retention_rate"] == pytest.approx((prior["occasions_12m"] > 0).mean())
    answered = external[external["nps_group"] != "none"]
    nps = 100 * (
        (answered["nps_group"] == "promoter").mean() - (answered["nps_group"] == "detractor").mean()
    )
    assert total["nps"] == pytest.approx(nps)
    assert total["mean_tenure_days"] == pytest.approx(buyers["tenure_days"].mean())
    prospects = frame(
        warehouse,
        "select * from main.loyalty_scorecard where scheme = 'lifecycle' and label = 'prospect'",
    ).iloc[0]
    assert prospects["purchasers"] == 0 and pd.isna(prospects["repeat_rate"])


def test_the_buying_centre_block_reconciles_with_contact_roles(warehouse):
    """Per scheme of the loyalty scorecard, the contacts per role add up to contact_roles
    (external accounts; the internal row to the internal ones), and per customer the
    customer scorecard's counts are its contacts' roles."""
    roles = frame(
        warehouse,
        """select r.customer_id, r.contact_role, f.is_employee is true as internal
           from main.contact_roles r join main.customer_facts f using (customer_id)""",
    )
    assert len(roles) > 50 and set(roles["contact_role"]) == set(ROLE_COLUMNS)
    scorecard = frame(warehouse, "select * from main.loyalty_scorecard")
    block = scorecard[scorecard["scheme"] == "buying_centre_action"]
    assert set(block["label"]) >= {"reach_wallet", "find_wallet", "none", "not_applicable"}
    for internal, rows in scorecard.groupby(scorecard["label"] == "internal"):
        theirs = roles[roles["internal"] == internal]
        for scheme, part in rows.groupby("scheme"):
            assert part["contacts"].sum() == len(theirs), (scheme, internal)
            for role, column in ROLE_COLUMNS.items():
                expected = (theirs["contact_role"] == role).sum()
                assert part[column].sum() == expected, (scheme, role, internal)
    customers = frame(
        warehouse,
        f"""select customer_id, contacts, {", ".join(ROLE_COLUMNS.values())}, has_wallet,
                   buying_centre_action
            from main.customer_scorecard""",
    ).set_index("customer_id")
    counted = roles.pivot_table(
        index="customer_id", columns="contact_role", aggfunc="size", fill_value=0
    ).rename(columns=ROLE_COLUMNS)
    counted = counted.reindex(customers.index, fill_value=0)
    for column in ROLE_COLUMNS.values():
        assert (customers[column] == counted[column]).all(), column
    assert (customers["contacts"] == counted.sum(axis=1)).all()
    assert (customers["has_wallet"] == (counted["wallets"] > 0)).all()
    alone = customers["contacts"] == 0
    assert set(customers.loc[alone, "buying_centre_action"]) <= {"not_applicable", "unknown"}


def test_whale_curve_properties(warehouse):
    curve = records(warehouse, "select * from main.whale_curve order by percentile")
    contribution = [
        row["contribution_12m"]
        for row in records(
            warehouse,
            "select contribution_12m from main.customer_facts where is_employee is not true",
        )
    ]
    cumulative = [row["cumulative_contribution_12m"] for row in curve]
    first, last = curve[0], curve[-1]
    assert [row["percentile"] for row in curve] == list(range(0, 101))
    assert last["customers"] == len(contribution)
    assert cumulative[0] == 0
    total = sum(contribution, Decimal(0))
    assert last["cumulative_contribution_12m"] == total == first["total_contribution_12m"]
    positive = sum((c for c in contribution if c > 0), Decimal(0))
    assert first["peak_contribution_12m"] == positive == max(cumulative)
    assert first["peak_customers"] == sum(c > 0 for c in contribution)
    assert first["peak_customer_share"] == pytest.approx(
        first["peak_customers"] / len(contribution)
    )
    assert first["below_zero_customers"] == sum(c < 0 for c in contribution)
    assert first["profit_lost_below_zero"] == positive - total
    # Rises up to the peak (the last profitable customer), never rises after it.
    peak = first["peak_customers"]
    for before, after in zip(curve, curve[1:], strict=False):
        step = after["cumulative_contribution_12m"] - before["cumulative_contribution_12m"]
        if after["customers"] <= peak:
            assert step >= 0, (before, after)
        if before["customers"] >= peak:
            assert step <= 0, (before, after)
    percents = [row["cumulative_contribution_pct"] for row in curve]
    if total > 0:
        assert percents[-1] == pytest.approx(100.0)
        assert first["peak_contribution_pct"] >= 100.0
        assert max(percents) == pytest.approx(first["peak_contribution_pct"])
    else:
        # The generated data set's costs to serve outweigh its margin: no % of a loss.
        assert all(p is None for p in percents) and first["peak_contribution_pct"] is None


def test_monthly_kpis_add_up_to_the_lifetime_facts(warehouse, facts):
    kpi = frame(warehouse, "select * from main.kpi_monthly order by month")
    segments = frame(warehouse, "select customer_id, lifecycle, role from main.customer_segments")
    customers = facts.merge(segments, on="customer_id")
    external = customers[customers["role"] == "external"]
    months = pd.date_range(kpi["month"].iloc[0], AS_OF, freq="MS")
    assert list(pd.to_datetime(kpi["month"])) == list(months), "one row per month, no gaps"
    assert kpi["month_end"].iloc[-1] == pd.Timestamp(AS_OF)
    # Money: the months add up to the lifetime figures (each rounded to the cent on its own).
    for column in ["revenue", "gross_margin", "contribution"]:
        months_total, months = warehouse.execute(
            f"select sum({column}), count(*) from main.kpi_monthly"
        ).fetchone()
        facts_total = warehouse.execute(
            f"select sum({column}) from main.customer_facts where is_employee is not true"
        ).fetchone()[0]
        assert abs(months_total - facts_total) <= Decimal("0.01") * months, column
    # D is a month end, so the last month's state is the state on D.
    last = kpi.iloc[-1]
    assert last["active_customers"] == (external["occasions_12m"] > 0).sum()
    assert last["lapsed_customers"] == (external["lifecycle"] == "lapsed").sum()
    assert kpi["new_customers"].sum() == (external["occasions"] > 0).sum()
    assert (kpi["churn_rate"].dropna() == 1 - kpi["retention_rate"].dropna()).all()
    for column in ["retention_rate", "repeat_purchase_rate", "csat"]:
        assert kpi[column].dropna().between(0, 1).all(), column
    assert kpi["nps"].dropna().between(-100, 100).all()
    assert pd.isna(kpi["retention_rate"].iloc[0])


def test_monthly_retention_is_active_at_both_month_ends(warehouse):
    # Brute force from the occasions: who was active (an occasion within window_12m_days) at
    # each month end, and who of them still at the next one.
    window = product_vars()["window_12m_days"]
    kpi = frame(warehouse, "select month, month_end, retention_rate from main.kpi_monthly")
    occasions = frame(
        warehouse,
        """select o.customer_id, o.occasion_date
           from intermediate.int_purchase_occasions o
           join intermediate.int_scorecard_customers c using (customer_id)
           where c.role = 'external'""",
    )
    occasions["occasion_date"] = pd.to_datetime(occasions["occasion_date"])
    kpi = kpi.sort_values("month").reset_index(drop=True)
    active_at = []
    for month_end in pd.to_datetime(kpi["month_end"]):
        since = month_end - pd.Timedelta(days=window - 1)
        in_window = occasions["occasion_date"].between(since, month_end)
        active_at.append(set(occasions.loc[in_window, "customer_id"]))
    checked = 0
    for i in range(1, len(kpi)):
        previous, now = active_at[i - 1], active_at[i]
        if not previous:
            assert pd.isna(kpi.loc[i, "retention_rate"])
            continue
        expected = len(previous & now) / len(previous)
        assert kpi.loc[i, "retention_rate"] == pytest.approx(expected), kpi.loc[i, "month"]
        checked += 1 if 0 < expected < 1 else 0
    assert checked >= 6, "the data must exercise both retained and lost customers"


def test_cohort_retention(warehouse, facts):
    cohorts = frame(warehouse, "select * from main.cohort_retention")
    external = facts[(facts["is_employee"] != True) & (facts["occasions"] > 0)]  # noqa: E712
    sizes = cohorts.drop_duplicates("cohort_month").set_index("cohort_month")["cohort_customers"]
    assert sizes.sum() == len(external)
    first_month = cohorts[cohorts["months_since_first"] == 0]
    assert (first_month["retention_rate"] == 1).all()
    assert cohorts["retention_rate"].between(0, 1).all()
    # Dense: every cohort runs to D's month.
    last = pd.Timestamp(AS_OF).to_period("M").to_timestamp()
    assert (cohorts.groupby("cohort_month")["activity_month"].max() == last).all()


def test_customer_scorecard_carries_labels_actions_and_advice_without_pii(warehouse, facts):
    scorecard = frame(warehouse, "select * from main.customer_scorecard")
    segments = frame(warehouse, "select * from main.customer_segments")
    actions = frame(warehouse, "select * from main.customer_actions")
    assert sorted(scorecard["customer_id"]) == sorted(facts["customer_id"])
    assert not {c.lower() for c in scorecard.columns} & PII_COLUMNS
    merged = scorecard.merge(segments, on="customer_id", suffixes=("", "_seg"))
    label_columns = [c for c in segments.columns if c.endswith("_reason")]
    label_columns += [c.removesuffix("_reason") for c in label_columns if c != "personality_reason"]
    label_columns += ["loyalty_driver"]
    for column in label_columns:
        assert column in scorecard.columns, column
        pd.testing.assert_series_equal(
            merged[column], merged[f"{column}_seg"], check_names=False, obj=column
        )
    merged = scorecard.merge(actions, on="customer_id", suffixes=("", "_act"))
    assert (merged["action"] == merged["action_act"]).all()
    assert (merged["action_reason"] == merged["action_reason_act"]).all()
    advice = frame(
        warehouse,
        """select p.customer_id, t.display_name, p.handling_advice
           from main.customer_personality p
           join main.personality_types t using (personality_type)""",
    )
    assert len(advice) > 0
    by_customer = scorecard.set_index("customer_id")["handling_advice"]
    for row in advice.itertuples():
        assert f"{row.display_name}: {row.handling_advice}" in by_customer[row.customer_id]
    without = set(scorecard["customer_id"]) - set(advice["customer_id"])
    assert by_customer[list(without)].isna().all()


def test_data_quality_matches_the_reconciliation(warehouse):
    quality = frame(warehouse, "select * from main.data_quality")
    totals = quality[quality["reason"] == "all"].set_index("source")
    reconciliation = frame(
        warehouse,
        """select source, sum(rows_read) as rows_read, sum(rows_staged) as rows_staged,
                  sum(rows_quarantined) as rows_quarantined
           from raw.reconciliation where drop_date <= ? group by source""",
        [AS_OF],
    ).set_index("source")
    for column in ["rows_read", "rows_staged", "rows_quarantined"]:
        assert (totals[column] == reconciliation.loc[totals.index, column]).all(), column
    assert (totals["rows_read"] == totals["rows_staged"] + totals["rows_quarantined"]).all()
    reasons = quality[quality["reason"] != "all"].groupby("source")["rows_quarantined"].sum()
    assert (reasons == totals.loc[reasons.index, "rows_quarantined"]).all()
    assert totals["rows_quarantined"].sum() > 0, "the dirty data set quarantines rows"


def test_segment_migration_is_empty_without_an_earlier_date(warehouse):
    dates = warehouse.execute("select count(distinct as_of_date) from main.segment_history")
    if dates.fetchone()[0] == 1:
        assert warehouse.execute("select count(*) from main.segment_migration").fetchone()[0] == 0


# ------------------------------------------------- segment migration over a second as-of date

PREVIOUS = AS_OF - dt.timedelta(days=30)


@pytest.fixture(scope="module")
def migrated(pipeline, tmp_path_factory) -> dict[str, pd.DataFrame]:
    """A copy of the warehouse whose segment_history gets an earlier date (D − 30) with every
    tenth customer on another lifecycle and value tier and one external customer not known
    yet; then only segment_migration is rebuilt."""
    home = tmp_path_factory.mktemp("migration")
    (home / "warehouse").mkdir()
    shutil.copy(pipeline.warehouse, home / "warehouse" / pipeline.warehouse.name)
    database = home / "warehouse" / "clientele.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(
            """insert into intermediate.int_segment_history by name
               select ? as as_of_date, customer_id, role,
                   case when row_number() over (order by customer_id) % 10 = 0
                        then 'lost' else lifecycle end as lifecycle,
                   case when row_number() over (order by customer_id) % 10 = 0
                        then 'prospect' else value_tier end as value_tier
               from main.segment_history
               where as_of_date = ? and customer_id != (
                   select min(customer_id) from main.segment_history
                   where as_of_date = ? and role = 'external'
               )""",
            [PREVIOUS, AS_OF, AS_OF],
        )
        history = con.execute("select * from main.segment_history").df()
    run_dbt(
        home, "run", "--select", "segment_migration",
        variables={"as_of": AS_OF.isoformat()}, timeout=300,
    )  # fmt: skip
    with duckdb.connect(str(database), read_only=True) as con:
        migration = con.execute("select * from main.segment_migration").df()
    return {"history": history, "migration": migration, "database": Path(database)}


@pytest.mark.parametrize("scheme", product_vars()["migration_schemes"])
def test_segment_migration_counts_the_moves_since_the_previous_date(migrated, scheme):
    history, migration = migrated["history"], migrated["migration"]
    history["as_of_date"] = pd.to_datetime(history["as_of_date"]).dt.date
    now = history[history["as_of_date"] == AS_OF].set_index("customer_id")
    before = history[history["as_of_date"] == PREVIOUS].set_index("customer_id")
    now = now[now["role"] == "external"]
    expected = (
        pd.DataFrame(
            {
                "from_label": before[scheme].reindex(now.index).fillna("not_known"),
                "to_label": now[scheme],
            }
        )
        .value_counts()
        .rename("customers")
        .reset_index()
    )
    rows = migration[migration["scheme"] == scheme]
    assert (pd.to_datetime(rows["previous_as_of_date"]).dt.date == PREVIOUS).all()
    got = rows.set_index(["from_label", "to_label"])["customers"].sort_index()
    want = expected.set_index(["from_label", "to_label"])["customers"].sort_index()
    pd.testing.assert_series_equal(got, want, check_names=False, check_dtype=False)
    assert rows.loc[rows["from_label"] == "not_known", "customers"].sum() == 1
    assert rows.groupby("from_label")["share_of_from"].sum().round(9).eq(1).all()
    assert rows["is_move"].sum() > 0
