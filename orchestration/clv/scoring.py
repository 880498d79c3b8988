"""From the warehouse to the CLV model and back: summaries, scores and the backtest (SPEC §4).

Time is measured in days. The summary per customer with at least one occasion by a cut-off
date C: x = occasions − 1, t_x = last − first, T = C − first, and the mean net revenue of the
repeat occasions (the Gamma-Gamma input).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from orchestration import clv

DAYS_PER_YEAR = 365.0


def occasion_summary(con: duckdb.DuckDBPyConnection, cutoff: dt.date) -> pd.DataFrame:
    """The BG/NBD + Gamma-Gamma summary of the purchase occasions on or before ``cutoff``."""
    return (
        con.execute(
            """
        select
            customer_id,
            count(*) - 1 as x,
            max(occasion_date) - min(occasion_date) as t_x,
            cast(? as date) - min(occasion_date) as T,
            -- the mean of the repeat occasions: all but the first (one occasion per day), by
            -- aggregation instead of numbering every occasion in a window sort
            coalesce(
                (sum(net_revenue) - arg_min(net_revenue, occasion_date))::DOUBLE
                    / nullif(count(*) - 1, 0),
                0) as mean_value,
            avg(net_revenue::DOUBLE) as mean_value_all
        from intermediate.int_purchase_occasions
        where occasion_date <= ?
        group by customer_id
        order by customer_id
        """,
            [cutoff, cutoff],
        )
        .df()
        .set_index("customer_id")
    )


def customer_economics(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Each customer's margin rate and cost to serve per occasion over the last 12m (NaN where
    unknown), and the population values that replace the unknowns."""
    return (
        con.execute(
            """
        select
            customer_id,
            case when revenue > 0 then gross_margin::DOUBLE / revenue::DOUBLE end as margin_rate,
            case when occasions_12m > 0
                 then cost_to_serve_12m::DOUBLE / occasions_12m end as cost_per_occasion
        from main.customer_facts
        order by customer_id
        """
        )
        .df()
        .set_index("customer_id")
    )


def population_economics(con: duckdb.DuckDBPyConnection) -> tuple[float, float]:
    margin, cost = con.execute(
        """
        select
            sum(gross_margin)::DOUBLE / nullif(sum(revenue) filter (where revenue > 0), 0),
            sum(cost_to_serve_12m)::DOUBLE / nullif(sum(occasions_12m), 0)
        from main.customer_facts
        where revenue > 0 or occasions_12m > 0
        """
    ).fetchall()[0]
    return (float(margin) if margin is not None else 0.0, float(cost) if cost is not None else 0.0)


@dataclass(frozen=True)
class Scores:
    fit: clv.ClvFit
    customers: pd.DataFrame  # customer_id index: the four model outputs + model_method


def fit_and_score(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, settings: dict[str, Any]
) -> Scores:
    """Fit on all occasions up to D and score every customer with at least one occasion."""
    summary = occasion_summary(con, as_of)
    fallback_mean = float(summary["mean_value_all"].mean()) if len(summary) else None
    fit = clv.fit_clv(summary, fallback_mean=fallback_mean)
    economics = customer_economics(con)
    margin, cost = population_economics(con)
    scoring = summary.join(economics, how="left")
    scores = clv.score_customers(
        fit,
        scoring,
        margin_rate="margin_rate",
        cost_per_occasion="cost_per_occasion",
        annual_discount_rate=float(settings["annual_discount_rate"]),
        units_per_year=DAYS_PER_YEAR,
        population_margin_rate=margin,
        population_cost_per_occasion=cost,
    )
    scores["model_method"] = "fallback" if fit.fallback_used else "mle"
    return Scores(fit, scores)


@dataclass(frozen=True)
class Backtest:
    calibration_end: dt.date
    holdout_days: int
    metrics: dict[str, Any]
    deciles: pd.DataFrame
    fit: clv.ClvFit


def backtest(con: duckdb.DuckDBPyConnection, as_of: dt.date, holdout_days: int) -> Backtest:
    """Refit with data up to D − holdout and compare predicted with actual holdout occasions."""
    calibration_end = as_of - dt.timedelta(days=holdout_days)
    summary = occasion_summary(con, calibration_end)
    fallback_mean = float(summary["mean_value_all"].mean()) if len(summary) else None
    fit = clv.fit_clv(summary, fallback_mean=fallback_mean)
    actual = (
        con.execute(
            """select customer_id, count(*) as actual
           from intermediate.int_purchase_occasions
           where occasion_date > ? and occasion_date <= ?
           group by customer_id""",
            [calibration_end, as_of],
        )
        .df()
        .set_index("customer_id")["actual"]
    )
    frame = pd.DataFrame(index=summary.index)
    frame["predicted"] = (
        clv.expected_occasions(
            fit.bg_nbd, summary["x"], summary["t_x"], summary["T"], float(holdout_days)
        )
        if len(summary)
        else np.zeros(0)
    )
    frame["actual"] = actual.reindex(frame.index).fillna(0).astype(float)
    metrics = clv.holdout_metrics(frame["predicted"], frame["actual"])
    return Backtest(calibration_end, holdout_days, metrics, decile_table(frame), fit)


def decile_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Predicted vs actual holdout occasions by decile of prediction (1 = lowest)."""
    if frame.empty:
        return pd.DataFrame(columns=["decile", "customers", "predicted", "actual"])
    ranks = frame["predicted"].rank(method="first")
    deciles = np.ceil(ranks / len(frame) * 10).clip(1, 10).astype(int)
    table = frame.groupby(deciles).agg(
        customers=("predicted", "size"), predicted=("predicted", "sum"), actual=("actual", "sum")
    )
    return table.rename_axis("decile").reset_index()
