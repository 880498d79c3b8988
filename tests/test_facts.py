"""customer_facts against an independent pandas computation on the same generated files."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import AS_OF
from tests.reference import COUNTS, MONEY, RATIOS, compute_facts, differs


@pytest.fixture(scope="module")
def compared(warehouse, clean_raw) -> pd.DataFrame:
    """Pipeline facts (dirty input, after quarantine) joined with the reference (clean input)."""
    ours = warehouse.execute("select * from main.customer_facts").df()
    expected = compute_facts(clean_raw, AS_OF)
    assert sorted(ours["customer_id"]) == sorted(expected["customer_id"])
    return ours.merge(expected, on="customer_id", suffixes=("", "_expected"))


@pytest.mark.parametrize("column", MONEY)
def test_money_matches_to_the_cent(compared, column):
    """Each published amount is the exact amount rounded to the cent (half a cent at most)."""
    off = differs(compared, column)
    assert not off.any(), compared.loc[off, ["customer_id", column, f"{column}_expected"]].head()


def test_money_totals_match_to_the_cent(compared):
    for column in MONEY:
        total = compared[column].astype(float).sum()
        assert abs(total - compared[f"{column}_expected"].sum()) < 0.005 * len(compared), column


@pytest.mark.parametrize("column", COUNTS + RATIOS)
def test_counts_dates_and_ratios_match(compared, column):
    off = differs(compared, column)
    assert not off.any(), compared.loc[off, ["customer_id", column, f"{column}_expected"]].head()


def test_purchase_dates_match(compared):
    for column in ("first_purchase_date", "last_purchase_date"):
        ours = pd.to_datetime(compared[column])
        expected = pd.to_datetime(compared[f"{column}_expected"])
        assert ((ours == expected) | (ours.isna() & expected.isna())).all(), column


def test_prospects_have_no_purchase_facts(warehouse):
    rows = warehouse.execute(
        """select count(*), count(first_purchase_date), sum(revenue)
           from main.customer_facts where occasions = 0"""
    ).fetchall()
    count, with_dates, revenue = rows[0]
    assert count > 0 and with_dates == 0 and revenue == 0


def test_cost_basis_says_assumed_where_a_cost_was_missing(warehouse):
    rows = dict(
        warehouse.execute(
            "select cost_basis, count(*) from main.customer_facts group by 1"
        ).fetchall()
    )
    assert rows.get("assumed", 0) > 0 and rows.get("actual", 0) > 0 and rows.get(None, 0) > 0
