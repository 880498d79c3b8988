"""Limited offers (SPEC §6): policies, exclusions, cooldown, the lottery, the job and the CLI.

Offers write to the warehouse, so these tests work on a copy of the session pipeline's
warehouse (the session fixture keeps a read-only connection to the original open).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.segments import offers
from orchestration.segments.offers import OfferError, OfferRequest
from tests.conftest import AS_OF


@pytest.fixture(scope="module")
def offer_home(pipeline, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("offers")
    (home / "warehouse").mkdir()
    for suffix in ("", ".wal"):
        source = Path(f"{pipeline.warehouse}{suffix}")
        if source.exists():
            shutil.copy(source, home / "warehouse" / source.name)
    return home


@pytest.fixture
def con(offer_home):
    connection = duckdb.connect(str(offer_home / "warehouse" / "clientele.duckdb"))
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def candidates(offer_home) -> pd.DataFrame:
    with duckdb.connect(str(offer_home / "warehouse" / "clientele.duckdb")) as connection:
        return offers.load_candidates(connection, AS_OF)


def ids(result: offers.Allocation) -> list[str]:
    return list(result.allocation["customer_id"])


def test_lottery_is_reproducible_for_a_seed(con):
    first = offers.allocate(con, OfferRequest(slots=10, policy="lottery", seed=5))
    again = offers.allocate(con, OfferRequest(slots=10, policy="lottery", seed=5))
    other = offers.allocate(con, OfferRequest(slots=10, policy="lottery", seed=6))
    assert ids(first) == ids(again)
    assert ids(first) != ids(other)
    assert list(first.allocation["rank"]) == list(range(1, 11))
    assert first.allocation["seed"].eq(5).all()
    # A ticket depends only on (seed, customer): fewer candidates keep the winners' order.
    winner = ids(first)[0]
    narrowed = offers.allocate(
        con,
        OfferRequest(slots=3, policy="lottery", seed=5, exclude_customers=tuple(ids(first)[1:2])),
    )
    assert ids(narrowed)[0] == winner and ids(first)[1] not in ids(narrowed)


def test_default_exclusions_are_honoured(con, candidates):
    result = offers.allocate(
        con, OfferRequest(slots=len(candidates), policy="lottery", cooldown_days=0)
    )
    chosen = candidates[candidates["customer_id"].isin(ids(result))]
    assert (candidates["role"] == "internal").any()
    assert (candidates["value_tier"] == "below_zero").any()
    assert not (chosen["role"] == "internal").any()
    assert not (chosen["value_tier"] == "below_zero").any()
    assert not (chosen["ten_types"] == "let_go").any()
    expected = candidates[
        (candidates["role"] != "internal")
        & (candidates["value_tier"] != "below_zero")
        & (candidates["ten_types"] != "let_go")
    ]
    assert set(ids(result)) == set(expected["customer_id"])
    assert sum(result.excluded.values()) == len(candidates) - len(expected)


def test_label_exclusions_and_listed_customers(con, candidates):
    result = offers.allocate(
        con,
        OfferRequest(
            slots=len(candidates),
            policy="lottery",
            exclusions=("lifecycle:prospect", "satisfaction:angry"),
            exclude_customers=("C00000001",),
        ),
    )
    chosen = candidates[candidates["customer_id"].isin(ids(result))]
    assert not chosen["lifecycle"].eq("prospect").any()
    assert not chosen["satisfaction"].eq("angry").any()
    assert "C00000001" not in ids(result)
    assert chosen["role"].eq("internal").any(), "defaults were replaced, not added"


@pytest.mark.parametrize(
    "request_",
    [
        OfferRequest(slots=3, policy="top_everything"),
        OfferRequest(slots=0),
        OfferRequest(slots=3, exclusions=("vip",)),
        OfferRequest(slots=3, exclusions=("email:x@example.com",)),
    ],
)
def test_bad_requests_fail_with_a_clear_error(con, request_):
    with pytest.raises(OfferError):
        offers.allocate(con, request_)


@pytest.mark.parametrize(
    ("policy", "measure"),
    [
        ("top_revenue_12m", lambda c: c["revenue_12m"]),
        ("top_revenue_lifetime", lambda c: c["revenue"]),
        ("top_clv", lambda c: c["clv_12m"]),
        ("top_value_at_risk", lambda c: c["clv_12m"] * (1 - c["p_alive"])),
    ],
)
def test_policies_take_the_top_of_their_measure(con, candidates, policy, measure):
    result = offers.allocate(con, OfferRequest(slots=10, policy=policy, exclusions=("internal",)))
    eligible = candidates[candidates["role"] != "internal"].assign(score=measure)
    eligible = eligible.dropna(subset=["score"])
    expected = eligible.sort_values(["score", "customer_id"], ascending=[False, True]).head(10)
    assert ids(result) == list(expected["customer_id"])
    assert result.allocation["score"].is_monotonic_decreasing
    assert result.allocation["reason"].str.contains("rank").all()


def test_policy_comparison_shows_overlap_and_value_captured(con):
    result = offers.allocate(con, OfferRequest(slots=10, policy="top_clv"))
    comparison = result.comparison.set_index("policy")
    assert list(comparison.index) == list(offers.POLICIES)
    for policy in offers.POLICIES:
        assert comparison.loc[policy, f"overlap_{policy}"] == 10
        for other in offers.POLICIES:
            assert (
                comparison.loc[policy, f"overlap_{other}"]
                == comparison.loc[other, f"overlap_{policy}"]
            )
    chosen = comparison.loc["top_clv"]
    assert bool(chosen["is_chosen_policy"])
    assert chosen["expected_clv_12m"] == pytest.approx(result.allocation["clv_12m"].sum(), abs=0.01)
    assert chosen["expected_clv_12m"] == comparison["expected_clv_12m"].max()
    assert chosen["share_of_best_clv"] == 1
    best_at_risk = comparison["expected_value_at_risk"].idxmax()
    assert best_at_risk == "top_value_at_risk"


def test_cooldown_excludes_recent_recipients_and_a_rerun_replaces_itself(con):
    first = offers.allocate(con, OfferRequest(slots=10, policy="top_clv", offer_id="rooms-a"))
    offers.record(con, first)
    second = offers.allocate(con, OfferRequest(slots=10, policy="top_clv", offer_id="rooms-b"))
    assert not set(ids(first)) & set(ids(second))
    assert second.excluded["cooldown"] == 10
    rerun = offers.allocate(con, OfferRequest(slots=10, policy="top_clv", offer_id="rooms-a"))
    assert ids(rerun) == ids(first)
    offers.record(con, rerun)
    offers.record(con, rerun)
    rows = con.execute(
        "select count(*) from main.offer_history where offer_id = 'rooms-a'"
    ).fetchone()[0]
    assert rows == 10
    no_cooldown = offers.allocate(
        con, OfferRequest(slots=10, policy="top_clv", offer_id="rooms-c", cooldown_days=0)
    )
    assert ids(no_cooldown) == ids(first)


@pytest.mark.parametrize(("days_ago", "excluded"), [(88, True), (89, True), (90, False)])
def test_cooldown_window_boundary(con, days_ago, excluded):
    """offer_cooldown_days 90 ending on D: an offer 89 days ago still counts, 90 days ago not."""
    customer = offers.allocate(con, OfferRequest(slots=1, policy="top_revenue_12m"))
    winner = ids(customer)[0]
    offered_on = AS_OF - dt.timedelta(days=days_ago)
    con.execute(
        "insert into main.offer_history values (?, ?, ?, 'top_revenue_12m')",
        [f"old-{days_ago}", winner, offered_on],
    )
    try:
        result = offers.allocate(con, OfferRequest(slots=1, policy="top_revenue_12m"))
        assert (winner not in ids(result)) is excluded
    finally:
        con.execute("delete from main.offer_history where offer_id = ?", [f"old-{days_ago}"])


def test_allocate_command_runs_the_dagster_job(offer_home, monkeypatch, capsys):
    from orchestration import cli

    monkeypatch.setenv("CLIENTELE_HOME", str(offer_home))
    monkeypatch.setenv("DAGSTER_HOME", str(offer_home / "dagster"))
    code = cli.main(
        [
            "allocate",
            "--home",
            str(offer_home),
            "--slots",
            "3",
            "--policy",
            "lottery",
            "--seed",
            "11",
            "--offer-id",
            "cli-lottery",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "offer cli-lottery: 3 of 3 slots, policy lottery" in out
    with duckdb.connect(str(offer_home / "warehouse" / "clientele.duckdb")) as connection:
        written = connection.execute(
            "select rank, customer_id from main.offer_allocation "
            "where offer_id = 'cli-lottery' order by rank"
        ).fetchall()
        expected = offers.allocate(
            connection,
            OfferRequest(slots=3, policy="lottery", seed=11, offer_id="cli-lottery"),
        )
    assert [customer for _, customer in written] == ids(expected)
    assert cli.main(["allocate", "--home", str(offer_home), "--slots", "0"]) == 1


def test_allocate_offer_is_its_own_job_outside_the_nightly_run():
    from orchestration.definitions import defs

    definitions = defs()
    job = definitions.resolve_job_def("allocate_offer")
    assert job.executor_def.name == "in_process"
    nightly = definitions.resolve_job_def("clientele_nightly")
    nightly_keys = {key.path[-1] for key in nightly.asset_layer.executable_asset_keys}
    assert "customer_segments" in nightly_keys
    assert not {"offer_allocation", "offer_history", "offer_policy_comparison"} & nightly_keys


def test_every_policy_of_the_seed_is_ranked_and_offered_by_the_cli():
    from orchestration import cli

    assert tuple(offers.POLICY_SCORE) == offers.POLICIES
    for policy in offers.POLICIES:
        args = cli.parser().parse_args(["allocate", "--slots", "1", "--policy", policy])
        assert args.policy == policy
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["allocate", "--slots", "1", "--policy", "top_vibes"])
