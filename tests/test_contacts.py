"""Buying-centre roles (SPEC §5.11): the contacts of business accounts get the roles the
generator planted, on a seed no other test uses; on the session's pipeline, the accounts'
buying-centre actions are the planted ones and contact_roles is published without contact
details.

The rules' boundaries are dbt unit tests (models/intermediate/segments/int_contact_roles.yml and
schemes/int_segment_buying_centre_action.yml, run by tests/test_dbt_unit_tests.py); that the
planted behaviour really is in the files is tests/test_generate.py's.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from generator.generate import generate
from orchestration import settings
from orchestration.ingest.contract import PII_COLUMNS, SOURCES
from orchestration.ingest.loader import Loader
from orchestration.segments import schemes
from tests.conftest import AS_OF, SEED, run_dbt

UNSEEN_SEED = 29  # no other test generates with it
UNSEEN_CUSTOMERS = 1500  # about 100 business accounts
MIN_RECOVERY = 0.95  # per planted role


def recovery(truth: pd.DataFrame, got: pd.DataFrame, key: str, label: str) -> pd.DataFrame:
    """Per planted label: how many there are and the share the pipeline gave that label."""
    merged = truth.merge(got, on=key, how="left", suffixes=("", "_got"))
    merged["recovered"] = merged[label] == merged[f"{label}_got"]
    return merged.groupby(label)["recovered"].agg(["size", "mean"])


@pytest.fixture(scope="module")
def unseen(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(planted roles, contact_roles) on a seed of its own: generated with dirt, every source
    ingested for AS_OF, then dbt runs the roles and everything they read (nothing downstream
    of the CLV model is needed for them)."""
    if UNSEEN_SEED == SEED:
        pytest.fail("the unseen seed must not be the session's")
    home = tmp_path_factory.mktemp("unseen")
    paths = settings.Paths(home)
    generate(paths, customers=UNSEEN_CUSTOMERS, seed=UNSEEN_SEED, end=AS_OF, dirt=True)
    paths.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(paths.warehouse)) as con:
        loader = Loader(con, paths.raw)
        for source in SOURCES:
            loader.load(source, AS_OF)
    run_dbt(home, "run", "--select", "+int_contact_roles", variables={"as_of": AS_OF.isoformat()})
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        got = con.execute("select * from intermediate.int_contact_roles").df()
    truth = pd.read_csv(paths.truth / "contacts.csv", dtype=str)
    return truth, got


def test_planted_roles_are_recovered_on_an_unseen_seed(unseen):
    truth, got = unseen
    table = recovery(truth, got[["contact_id", "contact_role"]], "contact_id", "contact_role")
    print(f"\nrecovery of planted buying-centre roles (seed {UNSEEN_SEED}):\n{table}")
    assert set(table.index) == set(schemes.contact_roles())
    assert table["size"].min() >= 10, "too few contacts of some role to measure its recovery"
    failing = table[table["mean"] < MIN_RECOVERY]
    assert failing.empty, f"recovery below {MIN_RECOVERY:.0%}:\n{table}"


def test_every_role_has_a_reason_quoting_its_numbers(unseen):
    _, got = unseen
    assert got["contact_role_reason"].str.len().gt(0).all()
    wallets = got[(got["contact_role"] == "wallet") & (got["orders_placed"] > 0)]
    for row in wallets.itertuples():
        assert row.contact_role_reason.startswith(f"placed {row.orders_placed} orders by D")
    windbags = got[got["contact_role"] == "windbag"]
    for row in windbags.itertuples():
        talk = row.tickets_12m + row.commented_answers_12m
        assert row.contact_role_reason.startswith(f"{talk} tickets and commented answers")


def test_planted_account_actions_are_recovered(pipeline, warehouse):
    truth = pd.read_csv(pipeline.truth / "customers.csv", dtype=str, keep_default_na=False)
    claimed = truth[truth["buying_centre_action"] != ""][["customer_id", "buying_centre_action"]]
    got = warehouse.execute(
        "select customer_id, buying_centre_action from main.customer_segments"
    ).df()
    table = recovery(claimed, got, "customer_id", "buying_centre_action")
    print(f"\nrecovery of planted buying-centre actions (seed {SEED}):\n{table}")
    assert {"reach_wallet", "find_wallet", "none", "unknown", "not_applicable"} <= set(table.index)
    failing = table[table["mean"] < MIN_RECOVERY]
    assert failing.empty, f"recovery below {MIN_RECOVERY:.0%}:\n{table}"
    roles = warehouse.execute("select contact_id, contact_role from main.contact_roles").df()
    people = pd.read_csv(pipeline.truth / "contacts.csv", dtype=str)
    assert (recovery(people, roles, "contact_id", "contact_role")["mean"] >= MIN_RECOVERY).all()


def test_contact_roles_is_published_without_contact_details(pipeline):
    with duckdb.connect(str(pipeline.published), read_only=True) as con:
        columns = {
            name
            for (name,) in con.execute(
                "select column_name from duckdb_columns() where table_name = 'contact_roles'"
            ).fetchall()
        }
        rows, dated = con.execute(
            "select count(*), count(*) filter (where as_of_date = ?) from main.contact_roles",
            [AS_OF],
        ).fetchone()
    assert {"contact_id", "customer_id", "contact_role", "contact_role_reason"} <= columns
    assert not columns & PII_COLUMNS
    assert rows > 50 and dated == rows
