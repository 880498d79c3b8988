"""Gamma-Gamma (Fader & Hardie 2013): value per occasion, fit on repeat customers, its
fallback, and the expected value per occasion."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from orchestration.clv.bg_nbd import as_output
from orchestration.clv.fitting import (
    LOG_BOUND,
    MIN_CUSTOMERS,
    as_float,
    dot,
    maximise,
    std_errors,
    weights_of,
)
from orchestration.clv.results import GammaGammaResult

# Gamma-Gamma fallback: p = 1, q = 2 makes the conditional mean x/(x+1) * own mean + 1/(x+1) *
# population mean (one pseudo-occasion of shrinkage).
FALLBACK_P = 1.0
FALLBACK_Q = 2.0


@dataclass
class _GgData:
    ux: np.ndarray  # distinct x
    wx: np.ndarray
    x: np.ndarray  # per customer x, mean value, weight
    m: np.ndarray
    w: np.ndarray
    xm: np.ndarray  # x * m: the total repeat spend
    w_x: np.ndarray  # w * x
    sum_wx_log_m: float
    sum_w_log_m: float
    sum_wx_log_x: float
    total_weight: float


def _gg_data(x: np.ndarray, m: np.ndarray, w: np.ndarray) -> _GgData:
    ux, inv = np.unique(x, return_inverse=True)
    wx = np.bincount(inv, weights=w, minlength=ux.size)
    log_m = np.log(m)
    return _GgData(
        ux=ux,
        wx=wx,
        x=x,
        m=m,
        w=w,
        xm=x * m,
        w_x=w * x,
        sum_wx_log_m=float(dot(w * x, log_m)),
        sum_w_log_m=float(dot(w, log_m)),
        sum_wx_log_x=float(dot(w * x, np.log(x))),
        total_weight=float(w.sum()),
    )


def _gg_loglik(params: np.ndarray, d: _GgData, with_grad: bool = True) -> tuple[float, np.ndarray]:
    """Total log-likelihood of the mean values (Fader & Hardie 2013, eq. 1a) and its gradient.

    ln f(m | x) = lnG(px+q) - lnG(px) - lnG(q) + q ln g + (px-1) ln m + px ln x - (px+q) ln(xm+g)
    """
    p, q, g = (float(v) for v in params)
    ux, wx = d.ux, d.wx
    W = d.total_weight
    gl = special.gammaln
    px_u = p * ux
    log_xm_g = np.log(d.xm + g)
    sum_x_log = dot(d.w_x, log_xm_g)
    sum_log = dot(d.w, log_xm_g)
    ll = (
        dot(wx, gl(px_u + q) - gl(px_u))
        - W * gl(q)
        + W * q * math.log(g)
        + p * d.sum_wx_log_m
        - d.sum_w_log_m
        + p * d.sum_wx_log_x
        - p * sum_x_log
        - q * sum_log
    )
    if not with_grad:
        return float(ll), np.zeros(3)
    dg = special.digamma
    inv = 1.0 / (d.xm + g)
    g_p = dot(wx * ux, dg(px_u + q) - dg(px_u)) + d.sum_wx_log_m + d.sum_wx_log_x - sum_x_log
    g_q = dot(wx, dg(px_u + q)) - W * dg(q) + W * math.log(g) - sum_log
    g_g = W * q / g - p * dot(d.w_x, inv) - q * dot(d.w, inv)
    return float(ll), np.array([g_p, g_q, g_g])


def _gg_fallback(
    d: _GgData, reason: str, fallback_mean: float | None, iterations: int = 0
) -> GammaGammaResult:
    """Own mean shrunk to the population mean by one pseudo-occasion (p = 1, q = 2).

    The population mean is the occasion-weighted mean of the fit customers (total repeat spend /
    repeat occasions); with no usable customer it is ``fallback_mean`` (the asset passes the mean
    value of all occasions), else 0.
    """
    if d.total_weight > 0:
        mu = float(dot(d.w * d.x, d.m) / dot(d.w, d.x))
        source = "occasion-weighted mean of repeat occasions"
    elif fallback_mean is not None and np.isfinite(fallback_mean) and fallback_mean > 0:
        mu = float(fallback_mean)
        source = "the supplied fallback mean"
    else:
        mu = 0.0
        source = "no value data at all: 0"
    gamma = mu * (FALLBACK_Q - 1.0) / FALLBACK_P
    ll = _gg_loglik(np.array([FALLBACK_P, FALLBACK_Q, gamma]), d, False)[0] if mu > 0 else 0.0
    if d.total_weight == 0:
        ll = 0.0
    note = (
        f"{reason}; fallback: each customer's mean value shrunk to the population mean "
        f"{mu:.6g} ({source}) with weight 1/(x+1)"
    )
    return GammaGammaResult(
        p=FALLBACK_P,
        q=FALLBACK_Q,
        gamma=gamma,
        log_likelihood=float(ll),
        converged=False,
        iterations=iterations,
        n_customers=int(round(d.total_weight)),
        method="fallback: shrunk observed mean",
        note=note,
        std_errors=None,
    )


def fit_gamma_gamma(
    x: ArrayLike,
    mean_value: ArrayLike,
    *,
    initial: Mapping[str, float] | tuple[float, float, float] | None = None,
    penalizer: float = 0.0,
    weights: ArrayLike | None = None,
    min_customers: int = MIN_CUSTOMERS,
    fallback_mean: float | None = None,
) -> GammaGammaResult:
    """Maximum-likelihood Gamma-Gamma fit on the customers with x > 0 and mean_value > 0.

    ``mean_value`` is the mean value of the x repeat occasions (NaN/0 where x == 0 is fine: those
    rows are ignored). ``penalizer`` adds ``penalizer * (p^2 + q^2 + gamma^2)`` to the mean
    negative log-likelihood, as ``lifetimes`` does.

    Falls back (see :func:`_gg_fallback`) with fewer than ``min_customers`` fit customers, no
    spread in the mean values (the MLE is then at q = infinity), a fit with q <= 1 (an infinite
    population mean: nothing to offer a customer without repeats), or when the optimiser ends
    somewhere non-finite or worse than the fallback.
    """
    xa = as_float("x", x)
    ma = as_float("mean_value", mean_value)
    if xa.shape != ma.shape:
        raise ValueError(f"x and mean_value differ in length: {xa.shape}, {ma.shape}")
    if not np.all(np.isfinite(xa)) or np.any(xa < 0):
        raise ValueError("x must be finite and non-negative")
    w = weights_of(weights, xa.size)
    use = (xa > 0) & np.isfinite(ma) & (ma > 0) & (w > 0)
    d = _gg_data(xa[use], ma[use], w[use])
    n = int(round(d.total_weight))

    if d.total_weight < min_customers:
        return _gg_fallback(
            d, f"only {n} customers with repeat occasions (< {min_customers})", fallback_mean
        )
    if np.ptp(d.m) <= 1e-12 * float(np.max(d.m)):
        return _gg_fallback(d, "every customer has the same mean value", fallback_mean)

    mean_m = float(dot(d.w, d.m) / d.total_weight)
    if initial is None:
        start = np.array([2.0, 3.0, mean_m])  # population mean p*gamma/(q-1) = observed mean
    elif isinstance(initial, Mapping):
        start = np.array([initial["p"], initial["q"], initial["gamma"]], dtype=float)
    else:
        start = np.asarray(initial, dtype=float)
    if start.shape != (3,) or np.any(~np.isfinite(start)) or np.any(start <= 0):
        raise ValueError("initial must hold three positive parameters p, q, gamma")

    log_m = math.log(mean_m)
    bounds = [
        (-LOG_BOUND, LOG_BOUND),
        (-LOG_BOUND, LOG_BOUND),
        (-LOG_BOUND + log_m, LOG_BOUND + log_m),
    ]
    theta0 = np.clip(np.log(start), [b[0] for b in bounds], [b[1] for b in bounds])
    W = d.total_weight

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        ll, grad = _gg_loglik(params, d)
        value = -ll / W + penalizer * float(np.sum(params**2))
        return value, -grad * params / W + 2.0 * penalizer * params**2

    opt = maximise(objective, theta0, bounds)
    params = np.exp(opt.theta)
    with np.errstate(all="ignore"):
        ll = _gg_loglik(params, d, with_grad=False)[0]
    fallback = _gg_fallback(d, "", fallback_mean, opt.iterations)
    with np.errstate(all="ignore"):
        fb_theta = np.log([fallback.p, fallback.q, fallback.gamma])
        worse = objective(opt.theta)[0] > objective(fb_theta)[0]  # penalised, like the fit
    if not np.isfinite(ll) or not np.all(np.isfinite(params)) or worse:
        reason = opt.reason or "non-finite"
        return _gg_fallback(
            d,
            f"the optimiser did not find a usable maximum ({reason})",
            fallback_mean,
            opt.iterations,
        )
    if params[1] <= 1.0:
        return _gg_fallback(
            d,
            f"MLE has q = {params[1]:.4g} <= 1 (infinite population mean)",
            fallback_mean,
            opt.iterations,
        )
    return GammaGammaResult(
        p=float(params[0]),
        q=float(params[1]),
        gamma=float(params[2]),
        log_likelihood=float(ll),
        converged=opt.converged,
        iterations=opt.iterations,
        n_customers=n,
        method="mle" if opt.converged else "mle: not converged",
        note=(
            "maximum likelihood, interior optimum"
            if opt.converged
            else f"best iterate kept: {opt.reason}"
        ),
        std_errors=(
            std_errors(("p", "q", "gamma"), params, opt.hessian, W) if opt.converged else None
        ),
    )


def _gg_params(params: Any) -> tuple[float, float, float]:
    if isinstance(params, Mapping):
        vals = (params["p"], params["q"], params["gamma"])
    elif hasattr(params, "gamma"):
        vals = (params.p, params.q, params.gamma)
    else:
        vals = tuple(params)
    p, q, g = (float(v) for v in vals)
    if not (np.isfinite(p) and p > 0 and np.isfinite(q) and q > 1 and np.isfinite(g) and g >= 0):
        raise ValueError(f"Gamma-Gamma parameters need p > 0, q > 1, gamma >= 0; got {vals}")
    return p, q, g


def expected_value_per_occasion(
    params_gg: Any, x: ArrayLike, mean_value: ArrayLike
) -> np.ndarray | float:
    """E[value per occasion | x, mean value] = (p*gamma + p*x*m) / (p*x + q - 1).

    A credibility-weighted blend of the customer's own mean and the population mean
    p*gamma/(q-1); customers with x == 0 (or a missing / non-positive mean) get the latter.
    """
    p, q, g = _gg_params(params_gg)
    scalar = np.ndim(x) == 0 and np.ndim(mean_value) == 0
    xa, ma = np.broadcast_arrays(np.asarray(x, float), np.asarray(mean_value, float))
    if not np.all(np.isfinite(xa)) or np.any(xa < 0):
        raise ValueError("x must be finite and non-negative")
    known = (xa > 0) & np.isfinite(ma) & (ma > 0)
    xk = np.where(known, xa, 0.0)
    mk = np.where(known, ma, 0.0)
    return as_output((p * g + p * xk * mk) / (p * xk + q - 1.0), scalar)
