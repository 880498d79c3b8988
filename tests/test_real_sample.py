"""The real UCI Online Retail II export through the invoice-line preset, end to end."""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration import settings

SAMPLE = settings.PROJECT_ROOT.parent / "shared" / "data" / "online_retail_ii_2009-2010.parquet"
NON_MERCHANDISE = {
    "POST",
    "DOT",
    "M",
    "m",
    "C2",
    "D",
    "S",
    "B",
    "CRUK",
    "PADS",
    "ADJUST",
    "ADJUST2",
    "BANK CHARGES",
    "AMAZONFEE",
}

pytestmark = pytest.mark.skipif(not SAMPLE.exists(), reason="shared/data is not beside the repo")


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory):
    from orchestration.cli import main

    home = tmp_path_factory.mktemp("uci")
    code = main(["run", "--home", str(home), "--mapping", "invoice_lines", "--input", str(SAMPLE)])
    assert code == 0
    con = duckdb.connect(str(home / "warehouse" / "clientele.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    """The export as pandas reads it, with the preset's rules applied independently."""
    frame = pd.read_parquet(SAMPLE)
    frame["duplicate"] = frame.duplicated(keep="first")
    clean = frame[~frame["duplicate"]].copy()
    clean["cancelled"] = clean["Invoice"].str.startswith("C")
    clean["merch"] = ~clean["StockCode"].isin(NON_MERCHANDISE) & ~clean["StockCode"].map(
        lambda code: bool(re.match(r"^(gift_|TEST|DCGS)", code))
    )
    clean["amount"] = clean["Quantity"] * clean["Price"]
    return clean


def test_every_line_is_accounted_for(sample_home, expected):
    read, staged, quarantined = sample_home.execute(
        """select sum(rows_read), sum(rows_staged), sum(rows_quarantined)
           from raw.reconciliation where source = 'orders'"""
    ).fetchall()[0]
    assert read == 525_461 == staged + quarantined
    reasons = dict(
        sample_home.execute("select reason, count(*) from raw.quarantine group by 1").fetchall()
    )
    assert reasons == {
        "duplicate_line": int((~expected.index.isin(expected.index)).sum())
        + 525_461
        - len(expected)
    }


def test_customers_and_revenue_match_pandas_to_the_cent(sample_home, expected):
    live = expected[~expected["cancelled"] & expected["merch"] & expected["Customer ID"].notna()]
    per_customer = live.groupby(live["Customer ID"].astype(int).astype(str))["amount"].sum()
    facts = (
        sample_home.execute(
            "select customer_id, revenue::DOUBLE as revenue from main.customer_facts"
        )
        .df()
        .set_index("customer_id")["revenue"]
    )
    assert len(facts) == expected["Customer ID"].nunique() == 4383
    joined = facts.to_frame("ours").join(per_customer.rename("theirs")).fillna(0)
    assert np.abs(joined["ours"] - joined["theirs"]).max() <= 0.005 + 1e-6
    assert abs(facts.sum() - per_customer.sum()) < 0.01


def test_costs_rest_on_the_assumed_margin_and_say_so(sample_home):
    bases = sample_home.execute(
        "select distinct cost_basis from main.customer_facts where occasions > 0"
    ).fetchall()
    assert bases == [("assumed",)]
    # Each customer's margin is 35% of revenue, both rounded to the cent on their own.
    worst = sample_home.execute(
        """select max(abs(gross_margin::DOUBLE - 0.35 * revenue::DOUBLE))
           from main.customer_facts where revenue != 0"""
    ).fetchall()[0][0]
    assert worst <= 0.005 + 0.35 * 0.005 + 1e-9


def test_sources_that_do_not_exist_are_unknown_not_zero(sample_home):
    counts = sample_home.execute(
        """select count(*), count(tickets_12m), count(last_nps_score), count(referrals_count)
           from main.customer_facts"""
    ).fetchall()[0]
    assert counts == (4383, 0, 0, 0)
    satisfaction = sample_home.execute(
        "select distinct satisfaction from main.customer_segments"
    ).fetchall()
    assert satisfaction == [("unknown",)]
