"""The pandas peer: what a data scientist would write without a warehouse (issue #7).

    .venv/bin/python bench/peer_pandas.py bench/work/10M 2026-06-30

Reads the same raw order drops (every ``raw/orders/*.csv``) and the product catalogue with plain
pandas, computes the main customer facts the pipeline computes (orders, occasions, first and
last occasion, recency, tenure, revenue, revenue_12m, gross margin) and fits lifetimes'
BetaGeoFitter and GammaGammaFitter in days, then scores clv_12m (12 months, monthly discount
10 %/year). No quarantine, no dedup, no tests, no history: a lower bound for "the same answer
in pandas". Prints one JSON line with its stage times.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = [
    "order_id",
    "customer_id",
    "ordered_at",
    "product_id",
    "quantity",
    "unit_price",
    "discount",
    "unit_cost",
    "status",
]


def main() -> int:
    home, as_of = Path(sys.argv[1]), pd.Timestamp(dt.date.fromisoformat(sys.argv[2]))
    times: dict[str, float] = {}
    t = time.perf_counter()

    files = sorted((home / "raw" / "orders").glob("*.csv"))
    lines = pd.concat(
        [
            pd.read_csv(f, usecols=COLUMNS, engine="pyarrow", dtype_backend="numpy_nullable")
            for f in files
        ],
        ignore_index=True,
    )
    products = pd.concat(
        pd.read_parquet(f) for f in sorted((home / "raw" / "products").glob("*.parquet"))
    ).drop_duplicates("product_id", keep="last")
    times["read"] = time.perf_counter() - t
    t = time.perf_counter()

    lines["ordered_at"] = pd.to_datetime(lines["ordered_at"], errors="coerce")
    end = as_of + pd.Timedelta(1, "D")
    lines = lines[lines["customer_id"].notna() & (lines["ordered_at"] < end)]
    lines["order_date"] = lines["ordered_at"].dt.normalize()
    for col in ("quantity", "unit_price", "discount", "unit_cost"):
        lines[col] = pd.to_numeric(lines[col], errors="coerce").astype("float64")
    status = lines["status"].str.lower().fillna("completed")
    returned = status == "returned"
    lines.loc[returned, "quantity"] = -lines.loc[returned, "quantity"].abs()
    lines["discount"] = lines["discount"].fillna(0.0)
    quantity = lines["quantity"]
    lines["amount"] = quantity * lines["unit_price"] - np.sign(quantity) * lines["discount"]
    merch = products.set_index("product_id")["is_merchandise"].astype("boolean")
    cost = pd.to_numeric(products.set_index("product_id")["unit_cost"], errors="coerce")
    cost = cost.astype("float64")
    lines["is_merchandise"] = lines["product_id"].map(merch).fillna(True).astype(bool)
    unit_cost = lines["unit_cost"].fillna(lines["product_id"].map(cost))
    lines["cogs"] = (lines["quantity"] * unit_cost).fillna(lines["amount"] * 0.65)
    kept = lines[lines["is_merchandise"] & (status[lines.index] != "cancelled")]
    in_12m = kept["order_date"] >= as_of - pd.Timedelta(364, "D")
    g = kept.groupby("customer_id")
    facts = pd.DataFrame(
        {
            "orders_count": kept[kept["quantity"] > 0].groupby("customer_id")["order_id"].nunique(),
            "revenue": g["amount"].sum(),
            "revenue_12m": kept[in_12m].groupby("customer_id")["amount"].sum(),
            "gross_margin": g["amount"].sum() - g["cogs"].sum(),
        }
    )
    occasions = kept.groupby(["customer_id", "order_date"], as_index=False)["amount"].sum()
    occasions = occasions[occasions["amount"] > 0]
    o = occasions.groupby("customer_id")
    first, last = o["order_date"].min(), o["order_date"].max()
    summary = pd.DataFrame(
        {
            "frequency": o.size() - 1,
            "recency": (last - first).dt.days.astype(float),
            "T": (as_of - first).dt.days.astype(float),
            "monetary_value": o["amount"].sum() - o["amount"].first(),
        }
    )
    summary["monetary_value"] = (summary["monetary_value"] / summary["frequency"]).where(
        summary["frequency"] > 0, 0.0
    )
    facts = facts.join(summary, how="outer")
    facts["recency_days"] = (as_of - last).dt.days
    times["facts"] = time.perf_counter() - t
    del lines, kept
    t = time.perf_counter()

    from lifetimes import BetaGeoFitter, GammaGammaFitter

    warnings.simplefilter("ignore")
    fit = summary[summary["T"] > 0]
    bgf = BetaGeoFitter(penalizer_coef=0.0).fit(fit["frequency"], fit["recency"], fit["T"])
    repeat = fit[(fit["frequency"] > 0) & (fit["monetary_value"] > 0)]
    ggf = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"])
    times["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    clv = ggf.customer_lifetime_value(
        bgf,
        fit["frequency"],
        fit["recency"],
        fit["T"],
        fit["monetary_value"],
        time=12,
        freq="D",
        discount_rate=0.10 / 12,
    )
    facts["clv_12m"] = clv
    times["score"] = time.perf_counter() - t
    print(
        json.dumps(
            {
                **{k: round(v, 2) for k, v in times.items()},
                "customers": len(facts),
                "occasions": len(occasions),
                "total_clv_12m": round(float(facts["clv_12m"].sum()), 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
