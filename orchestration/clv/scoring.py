"""From the warehouse to the CLV model and back: summaries, scores and the backtest (SPEC §4).

Time is measured in days. The summary per customer with at least one occasion by a cut-off
date C: x = occasions − 1, t_x = last − first, T = C − first, and the mean net revenue of the
repeat occasions (the Gamma-Gamma input).

Short histories: the backtest's holdout is sized to the history (``backtest_window``), and a
fit whose dropout process the data do not identify is refitted with a weak prior chosen by that
backtest (``fit_model``, ``clv.dropout``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from orchestration import clv
from orchestration.clv.dropout import (
    DEFAULT_PRIOR_STRENGTH,
    DropoutCheck,
    PriorChoice,
    check_dropout,
    choose_prior_strength,
)

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
class BacktestWindow:
    """Where a backtest inside the history splits it, sized to the history: the holdout is
    ``holdout_days`` at most, at most half the history, and leaves at least
    ``backtest_min_calibration_days`` of calibration; below ``backtest_min_holdout_days`` of
    holdout there is no backtest (``insufficient_history``), never an error figure from a
    calibration too short to fit."""

    status: str  # "ok" or "insufficient_history"
    history_days: int  # from the first occasion to D
    holdout_days: int | None
    calibration_end: dt.date | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def backtest_window(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, settings: dict[str, Any]
) -> BacktestWindow:
    first = con.execute(
        """select min(occasion_date) from intermediate.int_purchase_occasions
           where occasion_date <= ?""",
        [as_of],
    ).fetchall()[0][0]
    history = (as_of - first).days if first else 0
    wanted = int(settings["holdout_days"])
    min_calibration = int(settings["backtest_min_calibration_days"])
    min_holdout = int(settings["backtest_min_holdout_days"])
    holdout = min(wanted, history - min_calibration, history // 2)
    if holdout < min_holdout:
        return BacktestWindow(
            "insufficient_history",
            history,
            None,
            None,
            f"{history} days of occasions up to D; a backtest needs at least "
            f"{min_calibration} days of calibration and {min_holdout} of holdout",
        )
    reason = f"holdout {holdout} days of {history} days of history" + (
        f" (shortened from {wanted} to keep a calibration)" if holdout < wanted else ""
    )
    return BacktestWindow("ok", history, holdout, as_of - dt.timedelta(days=holdout), reason)


def holdout_actuals(
    con: duckdb.DuckDBPyConnection, calibration_end: dt.date, as_of: dt.date
) -> pd.Series:
    """Occasions per customer after the calibration end, up to D."""
    return (
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


@dataclass(frozen=True)
class ModelFit:
    """The fitted model of one cut-off and what was decided about its dropout process."""

    fit: clv.ClvFit
    dropout: DropoutCheck
    remedy: str  # "none", or what was done about an unidentified dropout
    prior: PriorChoice | None

    def as_metadata(self) -> dict[str, Any]:
        return {
            **self.dropout.as_metadata(),
            "dropout_remedy": self.remedy,
            "dropout_prior_strength": self.prior.strength if self.prior else None,
            "dropout_prior_chosen_by": self.prior.chosen_by if self.prior else None,
        }

    @property
    def model_method(self) -> str:
        if self.fit.fallback_used:
            return "fallback"
        return "map" if self.fit.bg_nbd.method.startswith("map") else "mle"

    @property
    def note(self) -> str:
        """One sentence for people (the report, the asset check)."""
        if not self.dropout.assessed or self.dropout.identified:
            return f"Dropout process {self.dropout.reason}."
        return f"Dropout process not identified ({self.dropout.reason}); {self.remedy}."


def fit_model(
    summary: pd.DataFrame,
    *,
    prior: PriorChoice | None = None,
    choose: Any = None,
) -> ModelFit:
    """Fit BG/NBD + Gamma-Gamma by maximum likelihood; when the dropout process is not
    identified (``clv.dropout``), refit with a weak dropout prior: ``prior`` if given, else the
    strength ``choose()`` returns (a backtest), else the default."""
    fallback_mean = float(summary["mean_value_all"].mean()) if len(summary) else None
    fit = clv.fit_clv(summary, fallback_mean=fallback_mean)
    if summary.empty:
        check = DropoutCheck(False, True, False, None, None, 0.25, "no customers")
        return ModelFit(fit, check, "none", None)
    check = check_dropout(fit.bg_nbd, summary["x"], summary["t_x"], summary["T"])
    if not check.assessed or check.identified:
        return ModelFit(fit, check, "none", None)
    if prior is None:
        prior = choose() if choose else None
    if prior is None:
        prior = PriorChoice(DEFAULT_PRIOR_STRENGTH, "default: no backtest possible")
    weak = clv.fit_clv(summary, fallback_mean=fallback_mean, dropout_prior=prior.strength)
    remedy = (
        f"p_alive from a weak prior on the dropout (strength {prior.strength:g}, "
        f"{prior.chosen_by}): a = {weak.bg_nbd.a:.3g}, b = {weak.bg_nbd.b:.3g}, the likelihood "
        f"{fit.bg_nbd.log_likelihood - weak.bg_nbd.log_likelihood:.2f} units below its maximum"
    )
    notes = tuple(n for n in weak.notes if not n.startswith("BG/NBD")) + (
        f"BG/NBD: dropout not identified ({check.reason}); {remedy}",
    )
    return ModelFit(replace(weak, notes=notes), check, remedy, prior)


@dataclass(frozen=True)
class Scores:
    fit: clv.ClvFit
    customers: pd.DataFrame  # customer_id index: the four model outputs + model_method
    model: ModelFit


def fit_and_score(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, settings: dict[str, Any]
) -> Scores:
    """Fit on all occasions up to D and score every customer with at least one occasion.

    If the dropout process is not identified, the weak prior's strength is chosen by a backtest
    inside the history (``backtest_window``), or is the default when the history is too short."""
    summary = occasion_summary(con, as_of)

    def choose() -> PriorChoice | None:
        window = backtest_window(con, as_of, settings)
        if not window.ok:
            return PriorChoice(DEFAULT_PRIOR_STRENGTH, f"default: no backtest ({window.reason})")
        calibration = occasion_summary(con, window.calibration_end)
        if calibration.empty:
            return None
        active = holdout_actuals(con, window.calibration_end, as_of).reindex(calibration.index)
        choice = choose_prior_strength(
            calibration["x"],
            calibration["t_x"],
            calibration["T"],
            active.fillna(0).to_numpy() > 0,
            float(window.holdout_days),
        )
        how = f"{choice.chosen_by}, calibration to {window.calibration_end}, {window.reason}"
        return replace(choice, chosen_by=how)

    model = fit_model(summary, choose=choose)
    fit = model.fit
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
    scores["model_method"] = model.model_method
    return Scores(fit, scores, model)


@dataclass(frozen=True)
class Backtest:
    window: BacktestWindow
    metrics: dict[str, Any]
    deciles: pd.DataFrame
    model: ModelFit | None

    @property
    def calibration_end(self) -> dt.date | None:
        return self.window.calibration_end

    @property
    def holdout_days(self) -> int | None:
        return self.window.holdout_days

    @property
    def fit(self) -> clv.ClvFit | None:
        return self.model.fit if self.model else None


NO_METRICS = {"n": 0, "total_error_pct": None, "mae": None, "correlation": None}


def backtest(
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    settings: dict[str, Any],
    prior: PriorChoice | None = None,
) -> Backtest:
    """Refit with data up to D − holdout (sized to the history: ``backtest_window``) by the
    procedure of the nightly fit and compare predicted with actual holdout occasions. Where
    the calibration's dropout is not identified, ``prior`` (the strength the nightly fit chose)
    or the default is used. With too short a history: status ``insufficient_history``, no
    figures."""
    window = backtest_window(con, as_of, settings)
    if not window.ok:
        return Backtest(window, dict(NO_METRICS), decile_table(pd.DataFrame()), None)
    summary = occasion_summary(con, window.calibration_end)
    model = fit_model(summary, prior=prior)
    actual = holdout_actuals(con, window.calibration_end, as_of)
    frame = pd.DataFrame(index=summary.index)
    frame["predicted"] = (
        clv.expected_occasions(
            model.fit.bg_nbd,
            summary["x"],
            summary["t_x"],
            summary["T"],
            float(window.holdout_days),
        )
        if len(summary)
        else np.zeros(0)
    )
    frame["actual"] = actual.reindex(frame.index).fillna(0).astype(float)
    metrics = clv.holdout_metrics(frame["predicted"], frame["actual"])
    return Backtest(window, metrics, decile_table(frame), model)


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
