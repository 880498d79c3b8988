"""Lifetime value from the two models: discounted expected contribution over the next months,
and the calls the Dagster asset makes (fit, score, holdout metrics)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from orchestration.clv.bg_nbd import (
    DistinctPairs,
    bg_params,
    expected_alive,
    fit_bg_nbd,
    log_odds_dead,
    prediction_inputs,
)
from orchestration.clv.fitting import MIN_CUSTOMERS
from orchestration.clv.gamma_gamma import expected_value_per_occasion, fit_gamma_gamma
from orchestration.clv.results import ClvFit


def _fill(
    name: str, values: ArrayLike, n: int, population: float | None, required: bool
) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(values, dtype=float), (n,)).copy()
    missing = ~np.isfinite(arr)
    if missing.any():
        if population is None:
            known = arr[~missing]
            if known.size == 0:
                if required:
                    raise ValueError(f"{name}: no customer has a value; pass population_{name}")
                population = 0.0
            else:
                population = float(known.mean())
        arr[missing] = population
    return arr


def discounted_clv(
    bg: Any,
    gg: Any,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    mean_value: ArrayLike,
    *,
    margin_rate: ArrayLike,
    cost_per_occasion: ArrayLike = 0.0,
    annual_discount_rate: float = 0.0,
    units_per_year: float = 365.0,
    months: int = 12,
    population_margin_rate: float | None = None,
    population_cost_per_occasion: float | None = None,
) -> dict[str, np.ndarray]:
    """Expected discounted contribution over the next ``months`` months (SPEC §4 ``clv_12m``).

    For month m = 1..months (each ``units_per_year / 12`` time units; 365/12 days by default):
        occ_m = E[N(T, T + m*len)] - E[N(T, T + (m-1)*len)]
        clv  += occ_m * (value * margin_rate - cost_per_occasion) * (1 + rate) ** (-m / 12)
    i.e. each month's cash flow is discounted at its end with the monthly-compounded equivalent
    of ``annual_discount_rate``. ``value`` is :func:`expected_value_per_occasion`. NaN margin
    rates / costs are replaced by the population value (given, else the mean of the known
    customers; for costs with no known value, 0).

    Returns arrays ``p_alive``, ``expected_occasions`` (over the whole horizon),
    ``expected_value_per_occasion`` and ``clv``.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    if not np.isfinite(annual_discount_rate) or annual_discount_rate <= -1:
        raise ValueError("annual_discount_rate must be finite and > -1")
    if not np.isfinite(units_per_year) or units_per_year <= 0:
        raise ValueError("units_per_year must be positive")
    r, alpha, a, b = bg_params(bg)
    xa, ta, Ta, _ = prediction_inputs(x, t_x, T)
    xa, ta, Ta = (np.atleast_1d(v).astype(float).reshape(-1) for v in (xa, ta, Ta))
    n = xa.size
    value = np.broadcast_to(
        np.asarray(expected_value_per_occasion(gg, xa, np.broadcast_to(mean_value, (n,)))),
        (n,),
    )
    margin = _fill("margin_rate", margin_rate, n, population_margin_rate, required=True)
    cost = _fill(
        "cost_per_occasion", cost_per_occasion, n, population_cost_per_occasion, required=False
    )
    alive = special.expit(-log_odds_dead(r, alpha, a, b, xa, ta, Ta))
    month = units_per_year / 12.0
    per_occasion = value * margin - cost
    pairs = DistinctPairs(xa, Ta)
    clv = np.zeros(n)
    previous = np.zeros(n)
    for m in range(1, months + 1):
        cumulative = alive * pairs.spread(
            expected_alive(r, alpha, a, b, pairs.x, pairs.T, m * month)
        )
        occ_m = np.maximum(cumulative - previous, 0.0)
        clv += occ_m * per_occasion * (1.0 + annual_discount_rate) ** (-m / 12.0)
        previous = cumulative
    return {
        "p_alive": alive,
        "expected_occasions": previous,
        "expected_value_per_occasion": np.asarray(value, dtype=float),
        "clv": clv,
    }


def fit_clv(
    summary: pd.DataFrame,
    *,
    x: str = "x",
    t_x: str = "t_x",
    T: str = "T",
    mean_value: str = "mean_value",
    penalizer: float = 0.0,
    dropout_prior: float = 0.0,
    min_customers: int = MIN_CUSTOMERS,
    fallback_mean: float | None = None,
) -> ClvFit:
    """Fit BG/NBD and Gamma-Gamma on a per-customer summary frame (column names configurable).

    ``fallback_mean``: the value per occasion to assume when no customer has a repeat occasion
    (the asset passes the mean value of all occasions). ``dropout_prior``: see
    :func:`fit_bg_nbd` (``clv.dropout`` says when it is needed). Never raises for degenerate
    data; every fallback is described in ``ClvFit.notes`` and in the results' ``method`` /
    ``note``.
    """
    if summary.empty:
        zeros = np.zeros(0)
        bg = fit_bg_nbd(zeros, zeros, zeros, min_customers=min_customers)
        gg = fit_gamma_gamma(zeros, zeros, min_customers=min_customers, fallback_mean=fallback_mean)
    else:
        bg = fit_bg_nbd(
            summary[x],
            summary[t_x],
            summary[T],
            penalizer=penalizer,
            dropout_prior=dropout_prior,
            min_customers=min_customers,
        )
        gg = fit_gamma_gamma(
            summary[x],
            summary[mean_value],
            penalizer=penalizer,
            min_customers=min_customers,
            fallback_mean=fallback_mean,
        )
    notes = []
    for label, res in (("BG/NBD", bg), ("Gamma-Gamma", gg)):
        if not res.converged or res.method.startswith("map"):
            notes.append(f"{label}: {res.method}: {res.note}")
    return ClvFit(bg_nbd=bg, gamma_gamma=gg, notes=tuple(notes))


def score_customers(
    fit: ClvFit,
    summary: pd.DataFrame,
    *,
    x: str = "x",
    t_x: str = "t_x",
    T: str = "T",
    mean_value: str = "mean_value",
    margin_rate: str | float = "margin_rate",
    cost_per_occasion: str | float = 0.0,
    annual_discount_rate: float = 0.0,
    units_per_year: float = 365.0,
    population_margin_rate: float | None = None,
    population_cost_per_occasion: float | None = None,
) -> pd.DataFrame:
    """Per-customer ``p_alive``, ``expected_occasions_12m``, ``expected_value_per_occasion``,
    ``clv_12m`` on the summary's index. ``margin_rate`` / ``cost_per_occasion`` are column names
    or constants; NaN entries take the population value (see :func:`discounted_clv`)."""
    cols = ["p_alive", "expected_occasions_12m", "expected_value_per_occasion", "clv_12m"]
    if summary.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols}, index=summary.index)

    def column(spec: str | float) -> ArrayLike:
        return summary[spec].to_numpy(dtype=float) if isinstance(spec, str) else spec

    res = discounted_clv(
        fit.bg_nbd,
        fit.gamma_gamma,
        summary[x].to_numpy(dtype=float),
        summary[t_x].to_numpy(dtype=float),
        summary[T].to_numpy(dtype=float),
        summary[mean_value].to_numpy(dtype=float),
        margin_rate=column(margin_rate),
        cost_per_occasion=column(cost_per_occasion),
        annual_discount_rate=annual_discount_rate,
        units_per_year=units_per_year,
        population_margin_rate=population_margin_rate,
        population_cost_per_occasion=population_cost_per_occasion,
    )
    return pd.DataFrame(
        {
            "p_alive": res["p_alive"],
            "expected_occasions_12m": res["expected_occasions"],
            "expected_value_per_occasion": res["expected_value_per_occasion"],
            "clv_12m": res["clv"],
        },
        index=summary.index,
    )


def holdout_metrics(predicted: ArrayLike, actual: ArrayLike) -> dict[str, float | None]:
    """Backtest summary: total error %, mean absolute error and Pearson correlation.

    ``total_error_pct`` is 100 * (sum predicted - sum actual) / sum actual (None when nothing
    happened in the holdout); ``correlation`` is None when either side has no spread.
    """
    pred = np.asarray(predicted, dtype=float).reshape(-1)
    act = np.asarray(actual, dtype=float).reshape(-1)
    if pred.shape != act.shape:
        raise ValueError("predicted and actual differ in length")
    if pred.size == 0:
        return {"n": 0, "total_error_pct": None, "mae": None, "correlation": None}
    total_actual = float(act.sum())
    total_error = (
        100.0 * (float(pred.sum()) - total_actual) / total_actual if total_actual > 0 else None
    )
    corr: float | None = None
    if pred.size > 1 and np.std(pred) > 0 and np.std(act) > 0:
        corr = float(np.corrcoef(pred, act)[0, 1])
    return {
        "n": int(pred.size),
        "total_error_pct": total_error,
        "mae": float(np.mean(np.abs(pred - act))),
        "correlation": corr,
    }
