"""Is the BG/NBD dropout process identified by the data, and what to do when it is not.

On a short history (months of a real export), the maximum-likelihood BG/NBD fit can land on the
boundary of *no dropout* (a -> 0): every long silence is explained by a slow purchase rate, no
one is ever lost, and ``p_alive`` is 1.0 for every customer, lapsed ones included. The data do
not say "nobody leaves"; they cannot tell how many leave. Two signs, both measured here:

- a **boundary fit**: the fitted mean dropout probability a / (a + b) is below 1e-4, or a ran to
  its bound;
- a **flat likelihood**: the BG/NBD maximum is within ``NO_DROPOUT_MARGIN`` log-likelihood units
  (half the 95% chi-square quantile with one degree of freedom) of the best model in which
  nobody ever drops out (the NBD limit a -> 0): a likelihood-ratio test cannot reject "no
  dropout", so the data leave p_alive to chance.

What is done then (``clv.scoring``): the model is refitted as a maximum a posteriori estimate
with a weak prior on the dropout parameters (``fit_bg_nbd(dropout_prior=...)``), centred on the
fallback's Beta(1, 3). Weak means its weight is a few log-likelihood units: where the data speak
(they bound the dropout probability well away from 25%) the prior does not move the fit; where
they are flat it picks a point inside the region they allow, so p_alive again falls with the
silence since the last occasion, faster for frequent buyers. The strength is chosen among
``PRIOR_STRENGTHS`` by a backtest inside the history -- the one whose calibration fit best
predicts who buys in the holdout (log loss of P(at least one occasion)) -- or, when the history
is too short for a backtest, is ``DEFAULT_PRIOR_STRENGTH``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from orchestration.clv.bg_nbd import (
    DistinctPairs,
    bg_params,
    fit_bg_nbd,
    p_alive,
    prediction_inputs,
)
from orchestration.clv.fitting import LOG_BOUND, as_float, check_summary, dot, maximise, weights_of
from orchestration.clv.results import BgNbdResult

NO_DROPOUT_MARGIN = 1.92  # chi2(1) 95% quantile / 2, in log-likelihood units
BOUNDARY_MEAN_DROPOUT = 1e-4  # a / (a + b) below this: "nobody leaves"
PRIOR_STRENGTHS = (0.1, 1.0, 10.0)
DEFAULT_PRIOR_STRENGTH = 1.0


@dataclass(frozen=True)
class NoDropoutFit:
    """The NBD limit of BG/NBD (a -> 0): gamma-Poisson purchases, nobody ever leaves."""

    r: float
    alpha: float
    log_likelihood: float
    converged: bool


def fit_no_dropout(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None
) -> NoDropoutFit:
    """Maximum likelihood of the model without dropout, on the same summary (t_x is not used:
    without dropout only the count over T matters). Its log-likelihood is the BG/NBD's at
    a -> 0 exactly, the same total over customers."""
    xa, ta, Ta = as_float("x", x), as_float("t_x", t_x), as_float("T", T)
    check_summary(xa, ta, Ta)
    w = weights_of(weights, xa.size)
    W = float(w.sum())
    # customers with the same (x, T) share every term: whole days make them few
    pairs = DistinctPairs(xa, Ta)
    w = np.bincount(pairs.codes, weights=w, minlength=pairs.x.size)
    xa, Ta = pairs.x, pairs.T
    gl, dg = special.gammaln, special.digamma

    def loglik(r: float, alpha: float) -> tuple[float, float, float]:
        lnT = np.log(alpha + Ta)
        ll = dot(w, gl(r + xa) - gl(r) - (r + xa) * lnT) + W * r * math.log(alpha)
        g_r = dot(w, dg(r + xa) - dg(r) - lnT) + W * math.log(alpha)
        g_alpha = W * r / alpha - dot(w, (r + xa) / (alpha + Ta))
        return ll, g_r, g_alpha

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha = np.exp(theta)
        ll, g_r, g_alpha = loglik(r, alpha)
        return -ll / W, -np.array([g_r * r, g_alpha * alpha]) / W

    rate = max(dot(w, xa), 0.5) / max(dot(w, Ta), 1e-9)
    opt = maximise(objective, np.log([1.0, 1.0 / rate]), [(-LOG_BOUND, LOG_BOUND)] * 2)
    r, alpha = np.exp(opt.theta)
    return NoDropoutFit(float(r), float(alpha), float(loglik(r, alpha)[0]), opt.converged)


@dataclass(frozen=True)
class DropoutCheck:
    """Whether a BG/NBD fit's dropout process is identified (see the module docstring)."""

    assessed: bool  # False for a fallback (its dropout is fixed by its prior)
    identified: bool
    boundary: bool
    likelihood_ratio: float | None  # ln L(BG/NBD) - ln L(no dropout)
    no_dropout_log_likelihood: float | None
    mean_dropout: float  # a / (a + b)
    reason: str

    def as_metadata(self) -> dict[str, Any]:
        return {
            "dropout_assessed": self.assessed,
            "dropout_identified": self.identified,
            "dropout_boundary_fit": self.boundary,
            "dropout_likelihood_ratio": self.likelihood_ratio,
            "dropout_mean_probability": self.mean_dropout,
            "dropout_reason": self.reason,
        }


def check_dropout(
    fit: BgNbdResult,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> DropoutCheck:
    """Boundary fit or flat likelihood against the model without dropout (module docstring)."""
    mean = fit.a / (fit.a + fit.b)
    if fit.is_fallback:
        return DropoutCheck(
            False, True, False, None, None, mean, "fallback: the dropout is its fixed prior"
        )
    at_bound = fit.a <= math.exp(-LOG_BOUND) * (1 + 1e-6)
    boundary = at_bound or mean < BOUNDARY_MEAN_DROPOUT
    nbd = fit_no_dropout(x, t_x, T, weights)
    ratio = fit.log_likelihood - nbd.log_likelihood
    flat = ratio < NO_DROPOUT_MARGIN
    if boundary:
        reason = (
            f"boundary fit: the mean dropout probability a/(a+b) = {mean:.2g} (a = {fit.a:.2g}): "
            "the maximum likelihood says nobody ever leaves, so p_alive is 1 for everyone"
        )
    elif flat:
        reason = (
            f"flat likelihood: the fit is only {ratio:.2f} log-likelihood units above the model "
            f"without dropout (< {NO_DROPOUT_MARGIN}): the data cannot tell how many customers "
            "leave"
        )
    else:
        reason = (
            f"identified: {ratio:.1f} log-likelihood units above the model without dropout "
            f"(>= {NO_DROPOUT_MARGIN})"
        )
    return DropoutCheck(True, not (boundary or flat), boundary, ratio, nbd.log_likelihood, mean,
                        reason)  # fmt: skip


def p_active(params: Any, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, horizon: float) -> np.ndarray:
    """P(at least one occasion in (T, T + horizon] | x, t_x, T) under BG/NBD: alive, and the
    gamma-Poisson posterior rate gives at least one occasion."""
    r, alpha, _, _ = bg_params(params)
    xa, ta, Ta, _ = prediction_inputs(x, t_x, T)
    alive = np.asarray(p_alive(params, xa, ta, Ta), dtype=float)
    none_if_alive = np.exp((r + xa) * (np.log(alpha + Ta) - np.log(alpha + Ta + horizon)))
    return alive * (1.0 - none_if_alive)


def log_loss(probability: np.ndarray, happened: np.ndarray) -> float:
    p = np.clip(np.asarray(probability, dtype=float), 1e-12, 1 - 1e-12)
    y = np.asarray(happened, dtype=float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


@dataclass(frozen=True)
class PriorChoice:
    """The chosen prior strength, how, and every candidate's holdout log loss."""

    strength: float
    chosen_by: str
    candidates: list[dict[str, float]] = field(default_factory=list)


def choose_prior_strength(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    active: ArrayLike,
    horizon: float,
    candidates: tuple[float, ...] = PRIOR_STRENGTHS,
) -> PriorChoice:
    """Fit the calibration summary with each prior strength and keep the one whose
    P(at least one occasion in the holdout) has the lowest log loss against ``active`` (ties:
    the weaker prior)."""
    scored = []
    for strength in candidates:
        fit = fit_bg_nbd(x, t_x, T, dropout_prior=strength)
        loss = log_loss(p_active(fit, x, t_x, T, horizon), np.asarray(active))
        scored.append({"prior_strength": strength, "holdout_log_loss": loss,
                       "a": fit.a, "b": fit.b})  # fmt: skip
    best = min(scored, key=lambda c: (round(c["holdout_log_loss"], 12), c["prior_strength"]))
    return PriorChoice(best["prior_strength"], "backtest: lowest holdout log loss", scored)
