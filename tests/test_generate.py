"""The synthetic data generator: reproducible bytes, contract-shaped files, planted archetypes
whose defining behaviour really is in the files, and dirt counted exactly.

Archetype checks recompute the facts they rest on from the raw files with pandas (nothing is
shared with the generator or the pipeline), using the SPEC's default thresholds and rates.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gzip
import hashlib
import io
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from generator import generate as gen
from generator.generate import generate
from orchestration.ingest.contract import SOURCES
from orchestration.settings import Paths

END = dt.date(2026, 6, 30)
D = pd.Timestamp(END)
CUSTOMERS = 300
SEED = 11
RATES = {"margin": 0.35, "order": 5.0, "return": 8.0, "minute": 1.0, "ticket_minutes": 15.0}
STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
EVENT_TIME = {s.name: s.event_time for s in SOURCES.values() if s.event_time}
TEXT_FORMATS = {
    "orders": ("*.csv", ","),
    "customers": ("*.csv", ","),
    "tickets": ("*.jsonl", "json"),
    "surveys": ("*.csv.gz", ";"),
    "customer_tags": ("*.csv", ","),
    "contacts": ("*.csv", ","),
}


# ---------------------------------------------------------------------------------------------
# Fixtures and readers


def _generate(home: Path, **kwargs) -> Path:
    args = {"customers": CUSTOMERS, "seed": SEED, "end": END, **kwargs}
    generate(Paths(home), **args)
    return home / "raw"


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("dirty"), dirt=True)


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@functools.cache
def read_rows(path: Path) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """(columns, rows) of a raw text file, parsed with the standard library; values as text
    (a JSON null becomes ""). Cached: several tests read the same files."""
    if path.name.endswith(".jsonl"):
        records = [json.loads(line) for line in path.read_text().splitlines()]
        columns = tuple(records[0])
        assert all(tuple(r) == columns for r in records), path
        rows = [["" if r[c] is None else str(r[c]) for c in columns] for r in records]
    else:
        data = path.read_bytes()
        text = (gzip.decompress(data) if path.name.endswith(".gz") else data).decode()
        reader = csv.reader(io.StringIO(text), delimiter=";" if ".csv.gz" in path.name else ",")
        columns, *rows = [tuple(r) for r in reader]
    return tuple(columns), tuple(tuple(r) for r in rows)


def read_source(raw: Path, source: str) -> pd.DataFrame:
    """All drops of a text source as one frame of strings."""
    columns, rows = SOURCES[source].column_names, []
    for path in sorted((raw / source).iterdir()):
        header, body = read_rows(path)
        assert list(header) == columns, path
        rows.extend(body)
    return pd.DataFrame(rows, columns=columns)


def num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.replace("", np.nan), errors="coerce")


class Facts:
    """The handful of SPEC §3 facts the archetype definitions rest on, recomputed with pandas."""

    def __init__(self, raw: Path) -> None:
        self.truth = pd.read_csv(raw / "_truth" / "customers.csv", dtype=str, keep_default_na=False)
        self.customers = read_source(raw, "customers")
        products = pd.read_parquet(next((raw / "products").iterdir()))
        products["cost"] = pd.to_numeric(products["unit_cost"].astype(float))
        self.products = products.set_index("product_id")
        self.orders = self._orders(read_source(raw, "orders"))
        self.tickets = read_source(raw, "tickets")
        self.surveys = read_source(raw, "surveys")
        self.occasions = self._occasions()

    def _orders(self, o: pd.DataFrame) -> pd.DataFrame:
        o["day"] = pd.to_datetime(o["ordered_at"]).dt.normalize()
        for col in ("quantity", "unit_price", "discount", "unit_cost"):
            o[col] = num(o[col])
        for col in ("shipping_cost", "shipping_charged"):
            o[col] = num(o[col]).fillna(0.0)
        o["amount"] = o["quantity"] * o["unit_price"] - o["discount"].fillna(0.0)
        o["merch"] = o["product_id"].map(self.products["is_merchandise"]).astype(bool)
        o["valid"] = o["merch"] & (o["status"] != "cancelled") & (o["customer_id"] != "")
        return o

    def _occasions(self) -> pd.DataFrame:
        """(customer, day) with positive net merchandise revenue of non-cancelled lines."""
        valid = self.orders[self.orders["valid"]]
        per_day = valid.groupby(["customer_id", "day"])["amount"].sum()
        return per_day[per_day > 0].reset_index()

    def ids(self, archetype: str) -> list[str]:
        return self.truth.loc[self.truth["archetype"] == archetype, "customer_id"].tolist()

    def days_of(self, customer: str) -> list[pd.Timestamp]:
        occ = self.occasions
        return sorted(occ.loc[occ["customer_id"] == customer, "day"])

    def summary(self, customer: str) -> dict:
        days = self.days_of(customer)
        gaps = np.diff([d.toordinal() for d in days]) if len(days) > 1 else np.array([])
        return {
            "n": len(days),
            "first": (D - days[0]).days if days else None,
            "recency": (D - days[-1]).days if days else None,
            "gaps": gaps,
            "median_gap": float(np.median(gaps)) if gaps.size else None,
            "n_24m": sum((D - d).days < 730 for d in days),
            "n_12m": sum((D - d).days < 365 for d in days),
        }

    def contribution_12m(self, customer: str) -> tuple[float, float]:
        """(gross margin, cost to serve) over the last 365 days with the default rates."""
        o = self.orders
        mine = o[(o["customer_id"] == customer) & ((D - o["day"]).dt.days < 365)]
        lines = mine[mine["valid"]]
        cost = lines["unit_cost"].combine_first(lines["product_id"].map(self.products["cost"]))
        cogs = (lines["quantity"] * cost).fillna(lines["amount"] * (1 - RATES["margin"]))
        margin = float((lines["amount"] - cogs).sum())
        orders_12m = lines.loc[lines["quantity"] > 0, "order_id"].nunique()
        returns = int((lines["quantity"] < 0).sum())
        served = mine[mine["status"] != "cancelled"]
        shipping = float((served["shipping_cost"] - served["shipping_charged"]).sum())
        t = self.tickets
        t = t[(t["customer_id"] == customer)]
        t = t[(D - pd.to_datetime(t["opened_at"]).dt.normalize()).dt.days < 365]
        minutes = float(num(t["handling_minutes"]).fillna(RATES["ticket_minutes"]).sum())
        cost_to_serve = (
            orders_12m * RATES["order"]
            + returns * RATES["return"]
            + minutes * RATES["minute"]
            + shipping
        )
        return margin, cost_to_serve

    def discount_share_12m(self, customer: str) -> float:
        o = self.orders
        lines = o[(o["customer_id"] == customer) & o["valid"] & (o["quantity"] > 0)]
        lines = lines[(D - lines["day"]).dt.days < 365]
        discounted = lines.loc[lines["discount"].fillna(0) > 0, "amount"].sum()
        return float(discounted / lines["amount"].sum())

    def latest_voice(self, customer: str) -> tuple[str, float | str] | None:
        """The most recent survey score or complaint within 365 days (SPEC §5.3)."""
        csat_map = {"5": 10, "4": 8, "3": 6, "2": 3, "1": 0}
        s = self.surveys[self.surveys["customer_id"] == customer]
        events = [
            (
                pd.Timestamp(r.responded_at),
                "survey",
                float(r.nps_score) if r.nps_score else csat_map[r.csat_score],
            )
            for r in s.itertuples()
        ]
        t = self.tickets
        t = t[(t["customer_id"] == customer) & (t["kind"] == "complaint")]
        events += [(pd.Timestamp(r.opened_at), "complaint", r.severity) for r in t.itertuples()]
        events = [e for e in events if (D - e[0].normalize()).days < 365]
        return max(events)[1:] if events else None

    def referred(self, customer: str) -> list[str]:
        c = self.customers
        return c.loc[c["referred_by"] == customer, "customer_id"].tolist()


@pytest.fixture(scope="module")
def facts(raw: Path) -> Facts:
    return Facts(raw)


# ---------------------------------------------------------------------------------------------
# Reproducibility and layout


def test_same_arguments_same_bytes_and_seed_matters(raw: Path, tmp_path: Path) -> None:
    expected = tree_hashes(raw)
    assert tree_hashes(_generate(tmp_path / "again")) == expected
    other = tree_hashes(_generate(tmp_path / "other", seed=SEED + 1))
    differing = {name for name, digest in other.items() if expected.get(name) != digest}
    assert any(name.startswith("orders/") for name in differing)


def test_output_does_not_depend_on_spill_buckets(
    raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gen, "BUCKET_ROWS", 150)  # a few days per bucket instead of one bucket
    assert tree_hashes(_generate(tmp_path / "small_buckets")) == tree_hashes(raw)


def test_regeneration_replaces_previous_drops(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _generate(home, customers=40, days=400)
    stale = first / "orders" / "1999-01-01.csv"
    stale.write_text("leftover")
    summary = generate(Paths(home), customers=40, seed=SEED, days=30, end=END)
    assert not stale.exists()
    assert summary.start == END - dt.timedelta(days=29)
    orders = sorted(p.name for p in (home / "raw" / "orders").iterdir())
    assert orders[0][:10] >= summary.start.isoformat() and orders[-1][:10] <= END.isoformat()
    assert [p.name for p in home.iterdir()] == ["raw"]  # no temporary folders left behind
    assert summary.archetypes["loyal"] == 0  # 30 days cannot hold a loyal customer's history
    assert summary.rows["customers"] == 40 and summary.files_written == sum(summary.files.values())


def test_blocks_stitch_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several blocks of customers: identifiers run on, keys stay unique, labels still hold."""
    monkeypatch.setattr(gen, "BLOCK_CUSTOMERS", 110)
    facts = Facts(_generate(tmp_path / "blocks"))
    ids = sorted(facts.customers["customer_id"])
    assert ids == [f"C{i:08d}" for i in range(1, CUSTOMERS + 1)]
    assert sorted(facts.truth["customer_id"]) == ids
    assert not facts.orders.duplicated(["order_id", "line_number"]).any()
    assert facts.tickets["ticket_id"].is_unique and facts.surveys["response_id"].is_unique
    for row in facts.truth[facts.truth["lifecycle"] != ""].itertuples():
        ago = [(D - d).days for d in facts.days_of(row.customer_id)]
        assert spec_lifecycle(ago) == row.lifecycle, row


def test_layout_formats_and_contract_columns(raw: Path) -> None:
    for source, (glob, _) in TEXT_FORMATS.items():
        files = sorted((raw / source).iterdir())
        assert files and all(f.match(glob) for f in files), source
        names = SOURCES[source].column_names
        for path in files:
            columns, rows = read_rows(path)
            assert list(columns) == names and rows, path
            assert all(len(r) == len(names) for r in rows), path
            day = path.name[:10]
            dt.date.fromisoformat(day)
            stamps = [r[names.index(EVENT_TIME[source])] for r in rows]
            assert all(STAMP.fullmatch(x) and x[:10] == day for x in stamps), path
    products = sorted((raw / "products").iterdir())
    assert len(products) == 1 and products[0].name == f"{END - dt.timedelta(days=1094)}.parquet"
    assert list(pd.read_parquet(products[0]).columns) == SOURCES["products"].column_names
    assert max(p.name[:10] for p in (raw / "orders").iterdir()) <= END.isoformat()


def test_surveys_are_semicolon_gzip_with_fixed_header(raw: Path) -> None:
    path = sorted((raw / "surveys").iterdir())[0]
    data = path.read_bytes()
    assert data[4:8] == b"\x00\x00\x00\x00"  # gzip mtime = 0
    header = gzip.decompress(data).decode().splitlines()[0]
    assert header == ";".join(SOURCES["surveys"].column_names)


def test_rows_within_a_file_are_in_time_order(raw: Path) -> None:
    at = SOURCES["orders"].column_names.index("ordered_at")
    for path in sorted((raw / "orders").iterdir()):
        stamps = [r[at] for r in read_rows(path)[1]]
        assert stamps == sorted(stamps), path


# ---------------------------------------------------------------------------------------------
# Content


def test_catalogue(facts: Facts) -> None:
    p = facts.products
    merch = p[p["is_merchandise"]]
    assert 280 <= len(merch) <= 320
    assert {"POSTAGE", "FEE"} <= set(p.index[~p["is_merchandise"]])
    assert 0.05 <= merch["unit_cost"].isna().mean() <= 0.15
    assert merch["category"].nunique() >= 8


def test_orders_look_like_orders(facts: Facts) -> None:
    o = facts.orders
    assert o["quantity"].eq(o["quantity"].round()).all()
    money = ["unit_price", "discount", "unit_cost", "shipping_cost", "shipping_charged"]
    for col in money:
        values = o[col].dropna()
        assert (values >= 0).all() and (values.round(2) == values).all(), col
    assert set(o["status"]) == {"completed", "cancelled", "returned"}
    assert (o.loc[o["status"] == "returned", "quantity"] < 0).all()
    assert (o.loc[o["quantity"] < 0, "status"] == "returned").all()
    per_order = o[o["quantity"] > 0].groupby("order_id")
    assert per_order["merch"].sum().between(1, 5).all()
    cancelled = o[o["status"] == "cancelled"]["order_id"].unique()
    assert (o[o["order_id"].isin(cancelled)]["status"] == "cancelled").all()  # whole orders
    first_lines = o["line_number"] == "1"
    assert o.loc[first_lines, "shipping_cost"].notna().all()
    assert (o.loc[~first_lines, "shipping_cost"] == 0).all()
    assert o["currency"].nunique() == 1
    guests = (o["customer_id"] == "").mean()
    assert 0.01 <= guests <= 0.06
    assert 0.05 <= (o["discount"] > 0).mean() <= 0.6
    lines_per_customer = len(o) / len(facts.customers)
    assert 15 <= lines_per_customer <= 35
    assert (o["day"] <= D).all()


def test_other_sources_are_consistent(facts: Facts) -> None:
    known = set(facts.customers["customer_id"])
    assert facts.customers["customer_id"].is_unique
    for frame in (facts.tickets, facts.surveys):
        assert set(frame["customer_id"]) <= known
    referrers = set(facts.customers["referred_by"]) - {""}
    assert referrers and referrers <= known
    signup = facts.customers.set_index("customer_id")["signed_up_at"]
    referred = facts.customers[facts.customers["referred_by"] != ""]
    assert (signup[referred["referred_by"]].to_numpy() < referred["signed_up_at"].to_numpy()).all()
    assert set(facts.tickets["kind"]) == {"complaint", "question", "return_request", "other"}
    assert (facts.tickets["handling_minutes"] == "").any()
    nps, csat = num(facts.surveys["nps_score"]), num(facts.surveys["csat_score"])
    assert nps.dropna().between(0, 10).all() and csat.dropna().between(1, 5).all()
    assert (nps.isna() & csat.notna()).any()  # some CSAT-only answers
    assert (nps.notna() | csat.notna()).all()
    first_order = facts.orders.groupby("customer_id")["ordered_at"].min()
    assert (
        signup.reindex(first_order.index.drop("", errors="ignore"))
        <= first_order.drop("", errors="ignore")
    ).all()


def test_truth_covers_every_customer(facts: Facts) -> None:
    truth = facts.truth
    assert list(truth.columns) == [
        "customer_id", "archetype", "role", "lifecycle", "satisfaction", "value_tier",
        "loyalty_type", "loyalty_driver", "ten_types", "buying_centre_action",
    ]  # fmt: skip
    assert sorted(truth["customer_id"]) == sorted(facts.customers["customer_id"])
    counts = truth["archetype"].value_counts()
    named = [
        "loyal", "lapsed", "reborn", "one_time", "new", "prospect", "discount_hunter",
        "below_zero", "let_go", "angry", "enthusiast", "employee",
    ]  # fmt: skip
    for name in named:
        assert counts.get(name, 0) >= 12, name
    assert 0.18 <= counts["background"] / len(truth) <= 0.32
    employee = facts.customers.set_index("customer_id")["is_employee"] == "true"
    role = truth.set_index("customer_id")["role"]
    assert ((role == "internal") == employee.reindex(role.index)).all()


# ---------------------------------------------------------------------------------------------
# Planted archetypes: the defining behaviour is in the files, with margin from the thresholds


def lapse_threshold(median_gap: float) -> float:
    return max(120.0, 3 * median_gap)


def test_loyal(facts: Facts) -> None:
    for c in facts.ids("loyal"):
        s = facts.summary(c)
        assert s["n_24m"] >= 8 and s["first"] >= 400, c
        assert s["recency"] < lapse_threshold(s["median_gap"]) - 30, c
        assert s["gaps"].max() < 100, c  # nothing like a lapse and a comeback


def test_lapsed(facts: Facts) -> None:
    for c in facts.ids("lapsed"):
        s = facts.summary(c)
        assert s["n"] >= 3, c
        assert s["recency"] > lapse_threshold(s["median_gap"]) + 40, c
        assert s["recency"] < 600, c  # not lost (730)


def test_reborn(facts: Facts) -> None:
    for c in facts.ids("reborn"):
        s = facts.summary(c)
        days = [(D - d).days for d in facts.days_of(c)]
        comebacks = [
            i
            for i in range(2, len(days))
            if days[i] <= 150
            and days[i - 1] - days[i] > lapse_threshold(np.median(-np.diff(days[:i]))) + 60
        ]
        assert comebacks, c
        assert s["recency"] < lapse_threshold(s["median_gap"]) - 20, c  # not lapsed now
        assert s["first"] > 120, c  # not new


def test_one_time_new_and_prospect(facts: Facts) -> None:
    for c in facts.ids("one_time"):
        s = facts.summary(c)
        assert s["n"] == 1 and 110 <= s["recency"] <= 340, c
    for c in facts.ids("new"):
        assert facts.summary(c)["first"] <= 60, c
    ordered = set(facts.orders["customer_id"])
    for c in facts.ids("prospect"):
        assert c not in ordered, c
        assert c not in set(facts.tickets["customer_id"]) | set(facts.surveys["customer_id"])


def test_discount_hunter(facts: Facts) -> None:
    occasions = facts.occasions.groupby("customer_id").size()
    f_rank = occasions.rank(pct=True)
    for c in facts.ids("discount_hunter"):
        s = facts.summary(c)
        assert facts.discount_share_12m(c) >= 0.85, c
        assert f_rank[c] >= 0.8 and s["recency"] <= 30, c  # F quintile >= 4 (with margin), active
        assert s["first"] >= 400 and s["gaps"].max() < 40, c  # lifecycle loyal
        assert facts.latest_voice(c) is None and not facts.referred(c), c


def test_below_zero(facts: Facts) -> None:
    for c in facts.ids("below_zero"):
        margin, cost = facts.contribution_12m(c)
        assert margin - cost < -50, c  # wide of 0 (value tier below_zero), a few hundred a year
        s = facts.summary(c)
        assert 100 <= s["first"] < 170 and s["n"] >= 2 and s["recency"] < 60, c


def test_let_go(facts: Facts) -> None:
    for c in facts.ids("let_go"):
        margin, cost = facts.contribution_12m(c)
        s = facts.summary(c)
        assert s["first"] >= 400 and s["recency"] <= 60 and s["n_12m"] >= 6, c
        assert s["gaps"].max() < 60, c
        # every occasion costs far more to serve than it earns
        assert cost / s["n_12m"] > 3 * max(margin / s["n_12m"], 1.0), c


def test_angry(facts: Facts) -> None:
    for c in facts.ids("angry"):
        kind, value = facts.latest_voice(c)
        assert (kind == "survey" and value <= 2) or (kind == "complaint" and value == "high"), c


def test_enthusiast_and_their_referrals(facts: Facts) -> None:
    for c in facts.ids("enthusiast"):
        kind, value = facts.latest_voice(c)
        assert kind == "survey" and value >= 9, c
        referred = facts.referred(c)
        assert referred, c
        firsts = [facts.summary(r)["first"] for r in referred]
        assert all(f is not None and f <= 300 for f in firsts), c
    truth = facts.truth.set_index("customer_id")
    referred = [r for c in facts.ids("enthusiast") for r in facts.referred(c)]
    assert set(truth.loc[referred, "archetype"]) == {"referred"}


def test_no_archetype_receives_foreign_referrals(facts: Facts) -> None:
    truth = facts.truth.set_index("customer_id")["archetype"]
    referrers = facts.customers.loc[facts.customers["referred_by"] != "", "referred_by"]
    assert set(truth[referrers]) <= {"background", "enthusiast"}


def spec_lifecycle(days_ago: list[int]) -> str:
    """SPEC §5.2 with the default thresholds; ``days_ago`` in chronological order."""
    if not days_ago:
        return "prospect"
    first, last, n = days_ago[0], days_ago[-1], len(days_ago)
    if first < 90:
        return "new"
    if last > 730 or (n == 1 and last > 365):
        return "lost"
    gaps = [a - b for a, b in zip(days_ago, days_ago[1:], strict=False)]
    if n >= 2 and last > lapse_threshold(float(np.median(gaps))):
        return "lapsed"
    for i in range(2, n):  # occasion i came after gaps[i - 1]; occasions 0..i-1 precede it
        if days_ago[i] <= 180 and gaps[i - 1] > lapse_threshold(float(np.median(gaps[: i - 1]))):
            return "reborn"
    if sum(a < 730 for a in days_ago) >= 4 and first >= 365:
        return "loyal"
    return "repeat" if n >= 2 else "one_time"


def spec_satisfaction(facts: Facts, customer: str) -> str:
    """SPEC §5.3: the latest voice event within 365 days decides."""
    voice = facts.latest_voice(customer)
    if voice is None:
        return "unknown"
    kind, value = voice
    if kind == "complaint":
        return "angry" if value == "high" else "dissatisfied"
    if value <= 2:
        return "angry"
    if value <= 6:
        return "dissatisfied"
    if value <= 8:
        return "satisfied"
    brought = any(facts.summary(r)["n_12m"] for r in facts.referred(customer))
    return "enthusiast" if brought else "happy"


def spec_loyalty(facts: Facts, customer: str, f_rank: pd.Series) -> tuple[str, str]:
    """SPEC §5.7 for the case the planted discount hunters are built for."""
    s = facts.summary(customer)
    high_patronage = (
        f_rank.get(customer, 0) > 0.6 and s["recency"] is not None and (s["recency"] <= 365)
    )
    voice = facts.latest_voice(customer)
    promoter = voice is not None and voice[0] == "survey" and voice[1] >= 9
    complaints = voice is not None and voice[0] == "complaint"
    detractor = voice is not None and voice[0] == "survey" and voice[1] <= 6
    if promoter or facts.referred(customer) or complaints or detractor:
        return "other", ""
    if facts.discount_share_12m(customer) >= 0.5:
        return ("spurious_loyalty", "discount") if high_patronage else ("no_loyalty", "")
    return "undetermined", ""


def test_truth_labels_follow_the_spec_rules(facts: Facts) -> None:
    """Every label the truth file claims is what the SPEC rules give on the generated files."""
    f_rank = facts.occasions.groupby("customer_id").size().rank(pct=True, method="first")
    checked = Counter()
    for row in facts.truth.itertuples():
        c = row.customer_id
        s = facts.summary(c)
        if row.lifecycle:
            ago = [(D - d).days for d in facts.days_of(c)]
            assert spec_lifecycle(ago) == row.lifecycle, (c, row.archetype)
        if row.satisfaction:
            assert spec_satisfaction(facts, c) == row.satisfaction, (c, row.archetype)
        if row.value_tier or row.ten_types:
            margin, cost = facts.contribution_12m(c)
            tier = "below_zero" if margin - cost < 0 else "prospect" if not s["n"] else "other"
            assert tier == (row.value_tier or tier), (c, row.archetype)
        if row.ten_types == "draining":
            assert margin - cost < 0 and s["first"] < 180, c
        if row.ten_types == "let_go":  # predicted CLV < 0: each future occasion loses money
            assert margin - cost < 0 and s["first"] >= 180 and cost > margin, c
        if row.loyalty_type:
            assert spec_loyalty(facts, c, f_rank) == (row.loyalty_type, row.loyalty_driver), c
        checked.update(
            k
            for k in ("lifecycle", "satisfaction", "value_tier", "loyalty_type", "ten_types")
            if getattr(row, k)
        )
    assert min(checked.values()) >= 12 and len(checked) == 5


# ---------------------------------------------------------------------------------------------
# Buying centres (SPEC §5.11): business accounts' contacts do what their planted role says

ACTIVE_DAYS = 180  # buying_centre_active_days; planted activity keeps 60 days either side
WINDBAG_MIN = 8  # windbag_min_contacts_12m
ALLY_MIN_SCORE = 7  # ally_min_score


class Centres:
    """Per contact, what it did by D, recomputed from the raw files with pandas."""

    def __init__(self, facts: Facts, raw: Path) -> None:
        self.truth = pd.read_csv(raw / "_truth" / "contacts.csv", dtype=str)
        contacts = read_source(raw, "contacts").set_index("contact_id")
        self.contacts = contacts.join(self.truth.set_index("contact_id")["contact_role"])
        o = facts.orders
        bought = o[(o["contact_id"] != "") & (o["status"] != "cancelled") & (o["quantity"] > 0)]
        self.orders = bought.groupby("contact_id").agg(
            orders=("order_id", "nunique"), last_order=("day", "max")
        )
        live = o[(o["customer_id"] != "") & (o["status"] != "cancelled") & (o["quantity"] > 0)]
        self.account_last_order = live.groupby("customer_id")["day"].max()
        t = facts.tickets[facts.tickets["contact_id"] != ""].copy()
        t["day"] = pd.to_datetime(t["opened_at"]).dt.normalize()
        a = facts.surveys[facts.surveys["contact_id"] != ""].copy()
        a["day"] = pd.to_datetime(a["responded_at"]).dt.normalize()
        csat_map = {"5": 10, "4": 8, "3": 6, "2": 3, "1": 0}
        a["score"] = num(a["nps_score"]).fillna(a["csat_score"].map(csat_map))
        in_year = lambda f: f[(D - f["day"]).dt.days < 365]  # noqa: E731
        self.tickets_12m = in_year(t).groupby("contact_id").size()
        self.commented_12m = in_year(a[a["comment"] != ""]).groupby("contact_id").size()
        self.answers_12m = in_year(a).groupby("contact_id").size()
        latest = in_year(a).sort_values("responded_at").groupby("contact_id")
        self.latest_score = latest["score"].last()
        self.last_seen = pd.concat(
            [self.orders["last_order"], t.groupby("contact_id")["day"].max(),
             a.groupby("contact_id")["day"].max()]
        ).groupby(level=0).max()  # fmt: skip
        self.events = pd.concat([t["contact_id"], a["contact_id"]]).value_counts()

    def ids(self, role: str) -> list[str]:
        return self.contacts.index[self.contacts["contact_role"] == role].tolist()

    def get(self, series: pd.Series, contact: str, default=0):
        return series.get(contact, default)

    def days_since(self, contact: str, decision_maker: bool = False) -> int | None:
        """Days since the contact's last order, ticket or answer (a decision maker's include
        its account's orders: it approves them); None for none."""
        seen = [self.last_seen.get(contact)]
        if decision_maker:
            seen.append(self.account_last_order.get(self.contacts.at[contact, "customer_id"]))
        seen = [d for d in seen if d is not None and not pd.isna(d)]
        return (D - max(seen)).days if seen else None


@pytest.fixture(scope="module")
def centres(facts: Facts, raw: Path) -> Centres:
    return Centres(facts, raw)


def test_contacts_belong_to_business_accounts_and_act_for_them(facts: Facts, centres: Centres):
    contacts = centres.contacts
    kind = facts.customers.set_index("customer_id")["customer_kind"]
    assert contacts.index.is_unique and len(contacts) > 40
    assert (kind[contacts["customer_id"]] == "business").all()
    created = pd.to_datetime(contacts["created_at"])
    signed_up = pd.to_datetime(facts.customers.set_index("customer_id")["signed_up_at"])
    assert (created >= signed_up[contacts["customer_id"]].to_numpy()).all()
    owner = contacts["customer_id"]
    for frame in (facts.orders, facts.tickets, facts.surveys):
        acted = frame[frame["contact_id"] != ""]
        assert len(acted) > 0
        assert (owner[acted["contact_id"]].to_numpy() == acted["customer_id"].to_numpy()).all()
        individual = kind.reindex(frame["customer_id"]).to_numpy() == "individual"
        assert (frame.loc[individual, "contact_id"] == "").all()
    first = facts.orders[facts.orders["contact_id"] != ""].groupby("contact_id")["ordered_at"].min()
    assert (created[first.index] <= pd.to_datetime(first)).all()
    assert not {"email", "name", "phone"} - set(contacts.columns)


def test_planted_roles_behave_as_their_role_with_margins(centres: Centres):
    c = centres
    counts = c.truth["contact_role"].value_counts()
    assert set(counts.index) == {"wallet", "ally", "internal", "windbag", "unknown"}
    for contact in c.ids("wallet"):
        dm = c.contacts.at[contact, "is_decision_maker"] == "true"
        assert c.get(c.orders["orders"], contact) >= 1 or dm, contact
        assert c.contacts.at[contact, "is_employee"] == "false", contact
    talkers = ["ally", "windbag", "unknown"]
    for contact in [x for role in talkers for x in c.ids(role)]:
        assert c.get(c.orders["orders"], contact) == 0, contact
        assert c.contacts.at[contact, "is_decision_maker"] == "false", contact
        assert c.contacts.at[contact, "is_employee"] == "false", contact
    for contact in c.ids("ally"):
        chatter = c.get(c.tickets_12m, contact) + c.get(c.commented_12m, contact)
        assert chatter + c.get(c.answers_12m, contact) >= 1 and chatter <= WINDBAG_MIN - 4
        assert c.get(c.latest_score, contact, -1) >= ALLY_MIN_SCORE + 1, contact
        assert c.days_since(contact) < ACTIVE_DAYS - 60, contact
    for contact in c.ids("windbag"):
        chatter = c.get(c.tickets_12m, contact) + c.get(c.commented_12m, contact)
        assert chatter >= WINDBAG_MIN + 4, contact
    for contact in c.ids("internal"):
        assert c.contacts.at[contact, "is_employee"] == "true", contact
    for contact in c.ids("unknown"):
        assert c.get(c.events, contact) == 0 and c.days_since(contact) is None, contact


def test_claimed_account_actions_follow_the_rules_with_margins(facts: Facts, centres: Centres):
    """Every buying-centre action the truth claims is what the rules give, each contact's
    activity 60 days clear of the active window (buying_centre_active_days 180)."""
    c = centres
    truth = facts.truth.set_index("customer_id")["buying_centre_action"]
    kind = facts.customers.set_index("customer_id")["customer_kind"]
    by_account = c.contacts.groupby("customer_id")
    claimed = Counter()
    for account, action in truth[truth != ""].items():
        claimed[action] += 1
        if account not in by_account.groups:
            assert action == ("not_applicable" if kind[account] == "individual" else "unknown")
            continue
        people = by_account.get_group(account)
        roles = people["contact_role"].value_counts()
        wallets, allies = roles.get("wallet", 0), roles.get("ally", 0)
        windbags = roles.get("windbag", 0)
        wallet_days = [
            c.days_since(x, people.at[x, "is_decision_maker"] == "true")
            for x in people.index[people["contact_role"] == "wallet"]
        ]
        ally_days = [c.days_since(x) for x in people.index[people["contact_role"] == "ally"]]
        silent = all(d is None or d >= ACTIVE_DAYS + 60 for d in wallet_days)
        some_active_ally = any(d is not None and d < ACTIVE_DAYS - 60 for d in ally_days)
        if action == "unknown":
            assert wallets + allies + windbags == 0, account
        elif action == "reach_wallet":
            assert wallets >= 1 and silent and some_active_ally, account
        elif action == "find_wallet":
            assert wallets == 0 and allies + windbags >= 1, account
        elif action == "limit_windbags":
            assert wallets >= 1 and windbags > wallets + allies, account
            assert not (silent and some_active_ally), account
        else:
            assert action == "none", (account, action)
            assert wallets >= 1 and windbags <= wallets + allies, account
            assert not (silent and some_active_ally), account
    assert claimed["not_applicable"] > 200 and claimed["none"] >= 5
    assert claimed["reach_wallet"] + claimed["find_wallet"] + claimed["limit_windbags"] >= 5


# ---------------------------------------------------------------------------------------------
# Dirt


def detect_dirt(raw: Path) -> Counter:
    """Count every defect in the files independently of the generator."""
    catalogue = set(pd.read_parquet(next((raw / "products").iterdir()))["product_id"])
    found: Counter = Counter()
    for source, (glob, delimiter) in TEXT_FORMATS.items():
        names = SOURCES[source].column_names
        src = SOURCES[source]
        keys = [  # required identifiers: empty means missing_key (customer_id of orders may be)
            c.name
            for c in src.columns
            if c.required and c.kind == "text" and c.name not in src.nullable_required
        ]
        for path in sorted((raw / source).glob(glob)):
            text = (
                gzip.decompress(path.read_bytes())
                if path.name.endswith(".gz")
                else (path.read_bytes())
            )
            lines = text.decode().splitlines()
            if delimiter != "json":
                lines = lines[1:]
            relative = f"{source}/{path.name}"
            seen: set[str] = set()
            for line in lines:
                if line in seen:
                    found[relative, "duplicate_line"] += 1
                    continue
                seen.add(line)
                row = _parse(line, names, delimiter)
                reason = (
                    "malformed_line"
                    if row is None
                    else _defect(row, source, keys, path.name[:10], catalogue)
                )
                if reason:
                    found[relative, reason] += 1
    return found


def _parse(line: str, names: list[str], delimiter: str) -> dict | None:
    if delimiter == "json":
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return None
    fields = next(csv.reader([line], delimiter=delimiter))
    return dict(zip(names, fields, strict=True)) if len(fields) == len(names) else None


def _defect(row: dict, source: str, keys: list[str], day: str, catalogue: set) -> str | None:
    if any(not row[k] for k in keys):
        return "missing_key"
    stamp = str(row[EVENT_TIME[source]])
    try:
        when = dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return "unparseable_date"
    if source == "orders":
        if not re.fullmatch(r"-?\d+", row["quantity"]):
            return "non_numeric_quantity"
        if row["product_id"] not in catalogue:
            return "unknown_product"
    if when.date().isoformat() > day:
        return "future_date"
    return None


def test_clean_data_has_no_dirt(raw: Path) -> None:
    assert detect_dirt(raw) == Counter()
    assert not (raw / "_truth" / "dirt.csv").exists()


def test_dirt_counts_match_the_files(raw: Path, dirty: Path) -> None:
    truth = pd.read_csv(dirty / "_truth" / "dirt.csv")
    assert list(truth.columns) == ["source", "file", "reason", "rows"]
    expected = Counter({(r.file, r.reason): r.rows for r in truth.itertuples()})
    assert detect_dirt(dirty) == expected
    assert set(truth["reason"]) == {
        "malformed_line", "duplicate_line", "unparseable_date", "non_numeric_quantity",
        "unknown_product", "future_date", "missing_key",
    }  # fmt: skip
    clean_rows = sum(len(read_rows(p)[1]) for s in TEXT_FORMATS for p in (raw / s).iterdir())
    assert 0.01 <= truth["rows"].sum() / clean_rows <= 0.025


def test_dirt_only_adds_lines_and_spares_planted_customers(raw: Path, dirty: Path) -> None:
    assert (raw / "_truth" / "customers.csv").read_bytes() == (
        dirty / "_truth" / "customers.csv"
    ).read_bytes()
    assert tree_hashes(raw).keys() <= tree_hashes(dirty).keys()
    planted = set(
        pd.read_csv(raw / "_truth" / "customers.csv", dtype=str, keep_default_na=False).query(
            "archetype != 'background'"
        )["customer_id"]
    )
    for path in sorted((raw / "orders").iterdir()):
        clean = Counter(path.read_text().splitlines())
        with_dirt = Counter((dirty / "orders" / path.name).read_text().splitlines())
        assert not clean - with_dirt  # every clean line is still there
        extra = with_dirt - clean
        assert not any(line.split(",")[1] in planted for line in extra if "," in line)


def test_contacts_of_an_account_signed_up_on_the_last_day_have_no_events() -> None:
    """At 400k customers some business account signs up on the last day: its contacts have no
    day left to act, and generation goes on (it failed with "low >= high")."""
    from generator import contacts

    rng = np.random.default_rng(0)
    days = 100
    last = days - 1
    assert contacts._days(rng, last + 1, last, 3).size == 0
    ally = contacts._ally(rng, 1, 2, last, days)
    windbag = contacts._windbag(rng, 1, 2, last + 1, days)
    assert [table["ts"].size for table in (*ally, *windbag)] == [0, 0, 0, 0]
