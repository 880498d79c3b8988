"""An independent pandas computation of customer facts straight from raw files (SPEC §3).

It shares no code with the pipeline: it reads the generated drops with pandas, applies the
rules as the spec words them, and returns one row per customer. Tests compare it with the
pipeline's ``customer_facts`` to the cent.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

RATES = {
    "default_margin_rate": 0.35,
    "cost_per_order": 5.0,
    "cost_per_return": 8.0,
    "cost_per_support_minute": 1.0,
    "default_ticket_minutes": 15.0,
}


MONEY = [
    "revenue",
    "revenue_12m",
    "gross_sales_12m",
    "returns_value_12m",
    "cogs_12m",
    "gross_margin_12m",
    "cost_to_serve_12m",
    "contribution_12m",
]
COUNTS = [
    "occasions",
    "occasions_12m",
    "occasions_24m",
    "orders_count",
    "orders_12m",
    "cancellations_count",
    "tickets_12m",
    "complaints_12m",
    "referrals_count",
    "referrals_12m",
    "tenure_days",
    "recency_days",
    "max_gap_days",
    "last_gap_days",
]
RATIOS = [
    "median_gap_days",
    "discount_share_12m",
    "return_rate_12m",
    "handling_minutes_12m",
    "last_nps_score",
]


def differs(compared: pd.DataFrame, column: str) -> pd.Series:
    """Rows of ``compared`` (ours merged with the reference, suffix ``_expected``) where
    ``column`` disagrees: money by more than half a cent (ours is rounded to the cent),
    anything else at all (1e-9)."""
    ours = pd.to_numeric(compared[column], errors="coerce").astype(float)
    expected = pd.to_numeric(compared[f"{column}_expected"], errors="coerce").astype(float)
    tolerance = 0.005 + 1e-9 if column in MONEY else 1e-9
    both_missing = ours.isna() & expected.isna()
    return ~(np.isclose(ours, expected, rtol=0, atol=tolerance) | both_missing)


def read_source(raw: Path, source: str) -> pd.DataFrame:
    frames = []
    for path in sorted((raw / source).rglob("*")):
        name = path.name
        if name.endswith(".parquet"):
            frame = pd.read_parquet(path)
        elif name.endswith((".jsonl", ".jsonl.gz")):
            frame = pd.read_json(path, lines=True, dtype=False)
        elif name.endswith((".csv", ".csv.gz")):
            sep = ";" if name.endswith(".csv.gz") else ","
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
        else:
            continue
        frames.append(frame.astype(str).replace({"": None, "None": None, "nan": None}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _num(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce")


def _bool(series: pd.Series) -> pd.Series:
    return series.fillna("").str.lower().isin(["true", "1", "t", "yes"])


def compute_facts(raw: Path, as_of: dt.date, rates: dict | None = None) -> pd.DataFrame:
    rates = {**RATES, **(rates or {})}
    d = pd.Timestamp(as_of)
    start_12m = d - pd.Timedelta(days=364)
    start_24m = d - pd.Timedelta(days=729)

    orders = read_source(raw, "orders")
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    orders["day"] = orders["ordered_at"].dt.normalize()
    orders = orders[orders["day"] <= d].copy()
    for column in (
        "quantity",
        "unit_price",
        "discount",
        "unit_cost",
        "shipping_cost",
        "shipping_charged",
    ):
        orders[column] = _num(orders.get(column)).fillna(0 if column != "unit_cost" else np.nan)
    orders["status"] = orders["status"].fillna("completed").str.lower()
    returned = orders["status"] == "returned"
    orders.loc[returned, "quantity"] = -orders.loc[returned, "quantity"].abs()
    orders["amount"] = (
        orders["quantity"] * orders["unit_price"] - np.sign(orders["quantity"]) * orders["discount"]
    )
    products = read_source(raw, "products")
    products["p_cost"] = _num(products["unit_cost"])
    products["merch"] = ~products["is_merchandise"].fillna("true").str.lower().isin(
        ["false", "0", "f", "no"]
    )
    orders = orders.merge(products[["product_id", "p_cost", "merch"]], on="product_id", how="left")
    orders["merch"] = orders["merch"].fillna(True).astype(bool)
    cost = orders["unit_cost"].fillna(orders["p_cost"])
    orders["assumed"] = cost.isna()
    orders["cogs"] = np.where(
        orders["assumed"],
        orders["amount"] * (1 - rates["default_margin_rate"]),
        orders["quantity"] * cost,
    )
    orders["in12"] = orders["day"] >= start_12m
    orders = orders[orders["customer_id"].notna()]
    cancelled = orders["status"] == "cancelled"
    live = orders[~cancelled]
    merch = live[live["merch"]]

    days = merch.groupby(["customer_id", "day"])["amount"].sum().reset_index()
    occ = days[days["amount"] > 0].sort_values(["customer_id", "day"])
    occ["gap"] = occ.groupby("customer_id")["day"].diff().dt.days

    facts = occ.groupby("customer_id").agg(
        first_purchase_date=("day", "min"),
        last_purchase_date=("day", "max"),
        occasions=("day", "size"),
        median_gap_days=("gap", "median"),
        max_gap_days=("gap", "max"),
        last_gap_days=("gap", "last"),
    )
    facts["occasions_12m"] = occ[occ["day"] >= start_12m].groupby("customer_id").size()
    facts["occasions_24m"] = occ[occ["day"] >= start_24m].groupby("customer_id").size()

    purchases = merch[merch["quantity"] > 0]
    money = pd.DataFrame(
        {
            "orders_count": purchases.groupby("customer_id")["order_id"].nunique(),
            "orders_12m": purchases[purchases["in12"]].groupby("customer_id")["order_id"].nunique(),
            "revenue": merch.groupby("customer_id")["amount"].sum(),
            "revenue_12m": merch[merch["in12"]].groupby("customer_id")["amount"].sum(),
            "gross_sales_12m": purchases[purchases["in12"]].groupby("customer_id")["amount"].sum(),
            "returns_value_12m": -merch[merch["in12"] & (merch["quantity"] < 0)]
            .groupby("customer_id")["amount"]
            .sum(),
            "return_lines_12m": merch[merch["in12"] & (merch["quantity"] < 0)]
            .groupby("customer_id")
            .size(),
            "discounted_12m": purchases[purchases["in12"] & (purchases["discount"] > 0)]
            .groupby("customer_id")["amount"]
            .sum(),
            "cogs_12m": merch[merch["in12"]].groupby("customer_id")["cogs"].sum(),
            "any_assumed": merch.groupby("customer_id")["assumed"].any(),
            "shipping_12m": (live["shipping_cost"] - live["shipping_charged"])
            .where(live["in12"], 0)
            .groupby(live["customer_id"])
            .sum(),
            "cancellations_count": orders[cancelled].groupby("customer_id")["order_id"].nunique(),
        }
    )

    customers = read_source(raw, "customers")
    customers["signed_up_at"] = pd.to_datetime(customers["signed_up_at"])
    customers = customers[customers["signed_up_at"].dt.normalize() <= d]
    known = sorted(set(customers["customer_id"]) | set(orders["customer_id"]))
    out = pd.DataFrame(index=pd.Index(known, name="customer_id"))
    out = out.join(facts).join(money)
    for column in (
        "occasions",
        "occasions_12m",
        "occasions_24m",
        "orders_count",
        "orders_12m",
        "revenue",
        "revenue_12m",
        "gross_sales_12m",
        "returns_value_12m",
        "return_lines_12m",
        "discounted_12m",
        "cogs_12m",
        "shipping_12m",
        "cancellations_count",
    ):
        out[column] = out[column].fillna(0)

    tickets = read_source(raw, "tickets")
    tickets["opened_at"] = pd.to_datetime(tickets["opened_at"]).dt.normalize()
    tickets = tickets[(tickets["opened_at"] <= d) & (tickets["opened_at"] >= start_12m)]
    tickets["minutes"] = _num(tickets["handling_minutes"]).fillna(rates["default_ticket_minutes"])
    out["tickets_12m"] = tickets.groupby("customer_id").size()
    out["complaints_12m"] = tickets[tickets["kind"] == "complaint"].groupby("customer_id").size()
    out["handling_minutes_12m"] = tickets.groupby("customer_id")["minutes"].sum()
    for column in ("tickets_12m", "complaints_12m", "handling_minutes_12m"):
        out[column] = out[column].fillna(0)

    out["gross_margin_12m"] = out["revenue_12m"] - out["cogs_12m"]
    out["cost_to_serve_12m"] = (
        out["orders_12m"] * rates["cost_per_order"]
        + out["return_lines_12m"] * rates["cost_per_return"]
        + out["handling_minutes_12m"] * rates["cost_per_support_minute"]
        + out["shipping_12m"]
    )
    out["contribution_12m"] = out["gross_margin_12m"] - out["cost_to_serve_12m"]
    out["discount_share_12m"] = out["discounted_12m"] / out["gross_sales_12m"].replace(0, np.nan)
    out["return_rate_12m"] = out["returns_value_12m"] / out["gross_sales_12m"].replace(0, np.nan)
    out["tenure_days"] = (d - out["first_purchase_date"]).dt.days
    out["recency_days"] = (d - out["last_purchase_date"]).dt.days

    surveys = read_source(raw, "surveys")
    surveys["responded_at"] = pd.to_datetime(surveys["responded_at"])
    surveys = surveys[surveys["responded_at"].dt.normalize() <= d]
    csat_to_nps = {5: 10, 4: 8, 3: 6, 2: 3, 1: 0}
    surveys["score"] = _num(surveys["nps_score"]).fillna(
        _num(surveys["csat_score"]).map(csat_to_nps)
    )
    latest = surveys.sort_values(["responded_at", "response_id"]).groupby("customer_id").last()
    out["last_nps_score"] = latest["score"]

    buyers = occ.groupby("customer_id")["day"].min()
    referred = customers[customers["referred_by"].notna()].copy()
    referred["first"] = referred["customer_id"].map(buyers)
    referred = referred[referred["first"].notna()]
    out["referrals_count"] = referred.groupby("referred_by").size()
    out["referrals_12m"] = referred[referred["first"] >= start_12m].groupby("referred_by").size()
    for column in ("referrals_count", "referrals_12m"):
        out[column] = out[column].fillna(0)
    out["is_employee"] = customers.set_index("customer_id")["is_employee"].pipe(_bool)
    return out.reset_index()
