"""BG/NBD (Fader, Hardie & Lee 2005): purchase occasions while alive, dropout after each
repeat. Fit by maximum likelihood, its fallback, and the conditional predictions
(p_alive, expected occasions over a horizon)."""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from orchestration.clv.fitting import (
    LOG_BOUND,
    MIN_CUSTOMERS,
    as_float,
    check_summary,
    dot,
    maximise,
    std_errors,
    weights_of,
)
from orchestration.clv.results import BgNbdResult

# BG/NBD fallback dropout prior: Beta(1, 3), i.e. a 25% chance of dropping out after each
# repeat occasion -- the order of magnitude of published fits (CDNOW: a=0.79, b=2.43).
FALLBACK_A = 1.0
FALLBACK_B = 3.0
# The centre of the weak dropout prior (fit_bg_nbd's dropout_prior): the same Beta(1, 3).
PRIOR_A = FALLBACK_A
PRIOR_B = FALLBACK_B
# Fallback gamma shape r is the pooled repeat count + 1/2 (Jeffreys), capped so a huge pooled
# count cannot produce extreme hypergeometric parameters.
FALLBACK_R_CAP = 100.0
# With no exposure at all (every T == 0) nothing says how fast anyone repeats: the fallback rate
# is then r / alpha = 0.5 / 1e9 per time unit, i.e. "no repeat occasion expected".
NO_EXPOSURE_ALPHA = 1e9

# scipy's hyp2f1 returns wrong finite values beyond these (checked against mpmath); the
# predictions then use the quadrature of _alive_robust instead.
_HYP2F1_MAX_A = 100.0
_HYP2F1_MAX_R = 1e3
# The likelihood over many repeat customers is summed in this many parts, one thread each; the
# split depends on the data only, so the fit is the same on any machine.
_LIKELIHOOD_PARTS = 4
_PARALLEL_MIN_CUSTOMERS = 200_000


@dataclass
class _BgData:
    """Summary split for a fast likelihood: per-x terms are computed once per distinct x."""

    ux: np.ndarray  # distinct x
    wx: np.ndarray  # weight per distinct x
    T0: np.ndarray  # T of customers with x == 0
    w0: np.ndarray
    xp: np.ndarray  # x, t_x, T, weight of customers with x > 0
    tp: np.ndarray
    Tp: np.ndarray
    wp: np.ndarray
    gap: np.ndarray  # T - t_x for x > 0
    total_weight: float
    time_scale: float  # lifetimes' scale (1 / max T), for a compatible penalizer

    @property
    def repeater_parts(self) -> list[slice]:
        """The repeat customers in ``_LIKELIHOOD_PARTS`` slices when there are many (each
        summed on its own thread), else one."""
        n = self.xp.size
        parts = _LIKELIHOOD_PARTS if n >= _PARALLEL_MIN_CUSTOMERS else 1
        bounds = np.linspace(0, n, parts + 1).astype(int)
        return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def _bg_data(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> _BgData:
    keep = w > 0
    x, t_x, T, w = x[keep], t_x[keep], T[keep], w[keep]
    ux, inv = np.unique(x, return_inverse=True)
    wx = np.bincount(inv, weights=w, minlength=ux.size)
    pos = x > 0
    max_t = float(T.max()) if T.size else 0.0
    return _BgData(
        ux=ux,
        wx=wx,
        T0=T[~pos],
        w0=w[~pos],
        xp=x[pos],
        tp=t_x[pos],
        Tp=T[pos],
        wp=w[pos],
        gap=T[pos] - t_x[pos],
        total_weight=float(w.sum()),
        time_scale=1.0 / max_t if max_t > 0 else 1.0,
    )


def _bg_loglik(params: np.ndarray, d: _BgData, with_grad: bool = True) -> tuple[float, np.ndarray]:
    """Total log-likelihood (paper eq. 6, in log space) and its gradient in (r, alpha, a, b).

    ln L_i = lnG(r+x) - lnG(r) + r ln(alpha) + lnB(a, b+x) - lnB(a, b)
             + ln[ (alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x) ]
    The last term is written as -(r+x) ln(alpha+T) + softplus(dlt) with
    dlt = ln a - ln(b+x-1) + (r+x) log1p((T-t_x)/(alpha+t_x)), exact for any x and T.
    """
    r, alpha, a, b = (float(v) for v in params)
    ux, wx = d.ux, d.wx
    W = d.total_weight
    gl = special.gammaln
    shared = dot(
        wx,
        gl(r + ux) - gl(r) + gl(b + ux) - gl(b) - gl(a + b + ux) + gl(a + b),
    )
    ll = shared + W * r * math.log(alpha)

    lnA0 = np.log(alpha + d.T0)
    ll -= r * dot(d.w0, lnA0)

    # The repeat customers' terms, summed per part (in a fixed order, so the total does not
    # depend on which thread finishes first): [ln L, d/dr, d/dalpha, sum of ws, ws / (b+x-1)].
    parts = d.repeater_parts
    if len(parts) == 1:
        sums = [_bg_repeater_sums(r, alpha, a, b, d, parts[0], with_grad)]
    else:
        errors = np.geterr()  # the caller's np.errstate does not reach other threads

        def part_sums(part: slice) -> np.ndarray:
            with np.errstate(**errors):
                return _bg_repeater_sums(r, alpha, a, b, d, part, with_grad)

        sums = list(_likelihood_pool().map(part_sums, parts))
    repeaters = sums[0]
    for more in sums[1:]:
        repeaters = repeaters + more
    ll += repeaters[0]
    if not with_grad:
        return float(ll), np.zeros(4)

    dg = special.digamma
    g_r = dot(wx, dg(r + ux) - dg(r)) + W * math.log(alpha) - dot(d.w0, lnA0) + repeaters[1]
    g_alpha = W * r / alpha - r * dot(d.w0, 1.0 / (alpha + d.T0)) + repeaters[2]
    g_a = dot(wx, dg(a + b) - dg(a + b + ux)) + repeaters[3] / a
    g_b = dot(wx, dg(b + ux) - dg(b) - dg(a + b + ux) + dg(a + b)) - repeaters[4]
    return float(ll), np.array([g_r, g_alpha, g_a, g_b])


def _bg_repeater_sums(
    r: float, alpha: float, a: float, b: float, d: _BgData, part: slice, with_grad: bool
) -> np.ndarray:
    """The x > 0 customers' share of :func:`_bg_loglik`, for the customers in ``part``."""
    xp, tp, Tp, wp = d.xp[part], d.tp[part], d.Tp[part], d.wp[part]
    rx = r + xp
    lnAT = np.log(alpha + Tp)
    lrat = np.log1p(d.gap[part] / (alpha + tp))  # ln((alpha+T)/(alpha+t_x))
    bx1 = b + xp - 1.0
    dlt = math.log(a) - np.log(bx1) + rx * lrat
    ll = dot(wp, np.logaddexp(0.0, dlt) - rx * lnAT)
    if not with_grad:
        return np.array([ll, 0.0, 0.0, 0.0, 0.0])
    s = special.expit(dlt)  # posterior weight of "dropped out right after t_x"
    ws = wp * s
    inv_T = 1.0 / (alpha + Tp)
    inv_t = 1.0 / (alpha + tp)
    return np.array(
        [
            ll,
            dot(wp, -lnAT) + dot(ws, lrat),
            -dot(wp * rx, inv_T) + dot(ws * rx, inv_T - inv_t),
            float(ws.sum()),
            dot(ws, 1.0 / bx1),
        ]
    )


@functools.cache
def _likelihood_pool() -> ThreadPoolExecutor:
    """Threads for the likelihood's parts: numpy and scipy's ufuncs release the GIL, so the
    parts of one evaluation run on as many cores (the fit is otherwise single-threaded)."""
    return ThreadPoolExecutor(min(_LIKELIHOOD_PARTS, os.cpu_count() or 1), "clv-likelihood")


def _bg_fallback(d: _BgData, reason: str, n_customers: int, iterations: int = 0) -> BgNbdResult:
    """Pooled Poisson-rate estimate with a fixed Beta(1, 3) dropout prior.

    The purchase rate is the pooled repeat rate (sum x + 1/2) / (sum T): a gamma with shape
    r = sum x + 1/2 and alpha = sum T is the posterior of one common rate under Jeffreys' prior,
    so individual histories barely move it and p_alive reduces to the rule
    odds(dead) = a/(b+x-1) * exp(rate * (T - t_x)). Without any exposure we assume ~no repeats.
    """
    repeats = float(dot(d.wx, d.ux))
    exposure = float(dot(d.w0, d.T0) + dot(d.wp, d.Tp))
    if exposure > 0:
        shape = repeats + 0.5
        r = min(shape, FALLBACK_R_CAP)
        alpha = exposure * r / shape
        rule = f"pooled repeat rate (sum x + 1/2) / (sum T) = {shape / exposure:.6g} per unit"
    else:
        r, alpha = 0.5, NO_EXPOSURE_ALPHA
        rule = "no exposure (every T == 0): repeat rate set to ~0"
    params = np.array([r, alpha, FALLBACK_A, FALLBACK_B])
    ll = _bg_loglik(params, d, with_grad=False)[0] if d.total_weight > 0 else 0.0
    note = (
        f"{reason}; fallback: {rule}, dropout Beta(a={FALLBACK_A:g}, b={FALLBACK_B:g})"
        " (25% chance of leaving after each repeat occasion)"
    )
    return BgNbdResult(
        r=float(r),
        alpha=float(alpha),
        a=FALLBACK_A,
        b=FALLBACK_B,
        log_likelihood=float(ll),
        converged=False,
        iterations=iterations,
        n_customers=n_customers,
        method="fallback: pooled Poisson rate",
        note=note,
        std_errors=None,
    )


def fit_bg_nbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    initial: Mapping[str, float] | tuple[float, float, float, float] | None = None,
    penalizer: float = 0.0,
    dropout_prior: float = 0.0,
    weights: ArrayLike | None = None,
    min_customers: int = MIN_CUSTOMERS,
) -> BgNbdResult:
    """Maximum-likelihood BG/NBD fit (Fader, Hardie & Lee 2005).

    ``x`` repeat occasions, ``t_x`` time of the last occasion since the first, ``T`` age since
    the first occasion, all in one time unit. ``weights`` counts identical customers.
    ``penalizer`` adds ``penalizer * (r^2 + (alpha/max T)^2 + a^2 + b^2)`` to the mean negative
    log-likelihood -- the same L2 term as ``lifetimes`` (which rescales time by 1/max T), so a
    penalised fit matches theirs; ``log_likelihood`` is always the unpenalised total.

    ``dropout_prior`` > 0 makes the fit a maximum a posteriori estimate with a weak log-normal
    prior on the dropout parameters, centred on Beta(a=1, b=3) (the fallback's: a 25% chance of
    leaving after each repeat): ``dropout_prior / 2 * ((ln a - ln 1)^2 + (ln b - ln 3)^2)`` is
    subtracted from the *total* log-likelihood, so it only decides where the data do not (a flat
    likelihood, or a maximum on the no-dropout boundary a -> 0: see ``clv.dropout``). The result's
    ``method`` is then ``"map: weak dropout prior"``.

    Falls back to :func:`_bg_fallback` (pooled rate, fixed dropout prior; ``converged=False``,
    ``method="fallback: ..."``) with fewer than ``min_customers`` customers, no repeat occasion,
    no exposure (every T == 0), or when the optimiser ends somewhere non-finite or worse than the
    fallback. An optimiser that stops short of a clean interior maximum but beats the fallback
    keeps its best iterate with ``converged=False`` and ``method="mle: not converged"``.
    """
    xa, ta, Ta = as_float("x", x), as_float("t_x", t_x), as_float("T", T)
    check_summary(xa, ta, Ta)
    w = weights_of(weights, xa.size)
    ta = np.where(xa > 0, np.minimum(ta, Ta), 0.0)  # t_x is meaningless without a repeat
    d = _bg_data(xa, ta, Ta, w)
    n = int(round(d.total_weight))
    repeats = float(dot(d.wx, d.ux))
    exposure = float(dot(d.w0, d.T0) + dot(d.wp, d.Tp))

    if d.total_weight < min_customers:
        return _bg_fallback(d, f"only {n} customers (< {min_customers})", n)
    if repeats <= 0:
        return _bg_fallback(d, "no repeat occasions (every x == 0)", n)
    if exposure <= 0:
        return _bg_fallback(d, "no exposure (every T == 0, a single day of data)", n)

    time_scale = d.time_scale
    if initial is None:
        rate = repeats / exposure
        start = np.array([1.0, 1.0 / rate, 1.0, 1.0])
    elif isinstance(initial, Mapping):
        start = np.array([initial["r"], initial["alpha"], initial["a"], initial["b"]], float)
    else:
        start = np.asarray(initial, dtype=float)
    if start.shape != (4,) or np.any(~np.isfinite(start)) or np.any(start <= 0):
        raise ValueError("initial must hold four positive parameters r, alpha, a, b")

    log_ts = math.log(time_scale)
    bounds = [(-LOG_BOUND, LOG_BOUND)] * 4
    bounds[1] = (-LOG_BOUND - log_ts, LOG_BOUND - log_ts)
    theta0 = np.clip(np.log(start), [b[0] for b in bounds], [b[1] for b in bounds])
    W = d.total_weight
    pen_scale = np.array([1.0, time_scale, 1.0, 1.0])
    prior_centre = np.log([1.0, 1.0, PRIOR_A, PRIOR_B])
    prior_on = np.array([0.0, 0.0, 1.0, 1.0]) * dropout_prior

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        ll, grad = _bg_loglik(params, d)
        scaled = params * pen_scale
        off = (theta - prior_centre) * prior_on
        value = (
            -ll / W
            + penalizer * float(np.sum(scaled**2))
            + 0.5 * dot(off, theta - prior_centre) / W
        )
        gtheta = -grad * params / W + 2.0 * penalizer * scaled**2 + off / W
        return value, gtheta

    opt = maximise(objective, theta0, bounds)
    fallback = _bg_fallback(d, "", n, opt.iterations)
    params = np.exp(opt.theta)
    with np.errstate(all="ignore"):
        ll = _bg_loglik(params, d, with_grad=False)[0]
        fb_theta = np.log([fallback.r, fallback.alpha, fallback.a, fallback.b])
        worse = objective(opt.theta)[0] > objective(fb_theta)[0]  # penalised, like the fit
    if not np.isfinite(ll) or not np.all(np.isfinite(params)) or worse:
        return _bg_fallback(
            d,
            f"the optimiser did not find a usable maximum ({opt.reason or 'non-finite'})",
            n,
            opt.iterations,
        )
    names = ("r", "alpha", "a", "b")
    if dropout_prior > 0:
        method = "map: weak dropout prior" if opt.converged else "map: not converged"
        note = (
            f"maximum a posteriori with a weak log-normal prior on a, b centred on "
            f"Beta({PRIOR_A:g}, {PRIOR_B:g}), strength {dropout_prior:g}"
            + ("" if opt.converged else f"; best iterate kept: {opt.reason}")
        )
    elif opt.converged:
        method, note = "mle", "maximum likelihood, interior optimum"
    else:
        method, note = "mle: not converged", f"best iterate kept: {opt.reason}"
    return BgNbdResult(
        r=float(params[0]),
        alpha=float(params[1]),
        a=float(params[2]),
        b=float(params[3]),
        log_likelihood=float(ll),
        converged=opt.converged,
        iterations=opt.iterations,
        n_customers=n,
        method=method,
        note=note,
        std_errors=std_errors(names, params, opt.hessian, W) if opt.converged else None,
    )


def bg_params(params: Any) -> tuple[float, float, float, float]:
    if isinstance(params, Mapping):
        vals = (params["r"], params["alpha"], params["a"], params["b"])
    elif hasattr(params, "alpha"):
        vals = (params.r, params.alpha, params.a, params.b)
    else:
        vals = tuple(params)
    r, alpha, a, b = (float(v) for v in vals)
    if not all(np.isfinite(v) and v > 0 for v in (r, alpha, a, b)):
        raise ValueError(f"BG/NBD parameters must be positive and finite, got {vals}")
    return r, alpha, a, b


def prediction_inputs(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    scalar = all(np.ndim(v) == 0 for v in (x, t_x, T))
    xa, ta, Ta = np.broadcast_arrays(
        np.asarray(x, float), np.asarray(t_x, float), np.asarray(T, float)
    )
    for name, arr in (("x", xa), ("t_x", ta), ("T", Ta)):
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"{name} must be finite and non-negative")
    if np.any(ta > Ta * (1 + 1e-12) + 1e-12):
        raise ValueError("t_x (time of last occasion) exceeds T (age) for some customers")
    ta = np.where(xa > 0, np.minimum(ta, Ta), 0.0)
    return xa, ta, Ta, scalar


def as_output(values: np.ndarray, scalar: bool) -> np.ndarray | float:
    return float(values.reshape(-1)[0]) if scalar else values


def log_odds_dead(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """ln P(dropped out)/P(alive); -inf for x == 0 (the model never drops out at the first)."""
    pos = x > 0
    xs = np.where(pos, x, 1.0)
    with np.errstate(divide="ignore"):
        lo = math.log(a) - np.log(b + xs - 1.0) + (r + xs) * np.log1p((T - t_x) / (alpha + t_x))
    return np.where(pos, lo, -np.inf)


def p_alive(params: Any, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray | float:
    """P(customer still active at T | x, t_x, T) under BG/NBD (paper eq. 13), in log-odds form.

    ``params``: a :class:`BgNbdResult`, a mapping with r, alpha, a, b, or a 4-tuple.
    """
    r, alpha, a, b = bg_params(params)
    xa, ta, Ta, scalar = prediction_inputs(x, t_x, T)
    return as_output(special.expit(-log_odds_dead(r, alpha, a, b, xa, ta, Ta)), scalar)


def _alive_core(
    r: float, a: float, b: float, x: np.ndarray, z: np.ndarray, log1mz: np.ndarray
) -> np.ndarray:
    """E[occasions in (T, T+t] | alive at T] for a != 1, via the Euler-transformed 2F1.

    The paper's (a+b+x-1)/(a-1) * [1 - (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)] has a 2F1 whose
    parameters grow with x and overflow; Euler's transformation turns it into
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose first two parameters do not depend on x.
    """
    eps = a - 1.0
    c = a + b + x - 1.0
    hyp = special.hyp2f1(a + b - 1.0 - r, eps, c, z)
    g = -np.expm1(eps * log1mz) - np.exp(eps * log1mz) * (hyp - 1.0)
    return c / eps * g


def _alive_robust(r: float, a: float, b: float, x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """E[(1 - (1+pu)^-(r+x)) / p] over p ~ Beta(a, b+x), by the trapezoid rule in logit(p).

    The fallback for whatever the 2F1 cannot do. In y = logit(p) the Beta density is
    exp(a y - (a+b+x) ln(1+e^y)) / B(a, b+x): smooth, log-concave, decaying exponentially on
    both sides, and the integrand's features are O(1) wide in y -- so the trapezoid rule with a
    step of min(0.2, sd/5) is accurate to ~1e-10 (checked against mpmath), for concentrated
    (huge a, b) and diffuse (tiny a, b) Betas alike. Mass beyond the grid (far tails, where
    the integrand is flat at its p -> 0 or p -> 1 limit) is added analytically.
    """
    out = np.empty(x.shape)
    for xv in np.unique(x):
        sel = np.flatnonzero(x == xv)
        beta = b + xv
        k = r + xv
        y0 = math.log(a / beta)
        sd = math.sqrt(1.0 / a + 1.0 / beta)
        y_lo = max(y0 - 9.0 * sd - 45.0 / a, -700.0)
        y_hi = min(y0 + 9.0 * sd + 45.0 / beta, 700.0)
        step = min(0.2, sd / 5.0)
        n_pts = min(int(math.ceil((y_hi - y_lo) / step)) + 1, 20_000)
        y = np.linspace(y_lo, y_hi, n_pts)
        step = y[1] - y[0]
        lb = float(special.betaln(a, beta))
        log_dens = a * y - (a + beta) * np.logaddexp(0.0, y) - lb
        w = np.exp(log_dens) * step
        w[0] *= 0.5
        w[-1] *= 0.5
        # tails beyond the grid: density ~ e^(a y) on the left, e^(-beta y) on the right
        left = math.exp(a * y_lo - (a + beta) * math.log1p(math.exp(y_lo)) - lb) / a
        right = math.exp(float(log_dens[-1])) / beta
        p = special.expit(y)
        for start in range(0, sel.size, 2_000):
            part = sel[start : start + 2_000]
            up = u[part]
            with np.errstate(all="ignore"):
                h = -np.expm1(-k * np.log1p(np.outer(up, p))) / p
            h = np.where(p > 0, h, (k * up)[:, None])
            out[part] = np.sum(h * w, axis=1) + left * k * up + right * -np.expm1(-k * np.log1p(up))
    return out


def expected_alive(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, T: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """E[occasions in (T, T+t] | alive at T, x], finite for every valid input.

    Order of methods: the Euler-transformed 2F1 (fast, accurate to ~1e-9 relative); near a = 1,
    where it is 0/0, cubic interpolation over a = 1 +- 1e-3, 1 +- 2e-3; where scipy's 2F1 fails
    (c - a - b an integer, i.e. r - a an integer) the mean over r and b perturbed by +-1e-6
    relative (error ~1e-12; also the retry for isolated non-finite values); anything
    still non-finite or outside the exact bounds 1 - (1+u)^-(r+x) <= E <= (r+x) u,
    u = t / (alpha + T), and every entry when a or r is so large that scipy's 2F1 cannot be
    trusted, goes to :func:`_alive_robust`. The result is clipped into those bounds.
    """
    x, T, t = (np.atleast_1d(v) for v in np.broadcast_arrays(x, T, t))
    u = t / (alpha + T)
    z = t / (alpha + T + t)
    log1mz = -np.log1p(u)
    k = r + x
    lower = -np.expm1(-k * np.log1p(u))
    upper = k * u

    def core(rr: float, aa: float, bb: float, sel: np.ndarray | slice) -> np.ndarray:
        with np.errstate(all="ignore"):
            if abs(aa - 1.0) >= 2e-3:
                return _alive_core(rr, aa, bb, x[sel], z[sel], log1mz[sel])
            delta = 1e-3
            nodes = (1 - 2 * delta, 1 - delta, 1 + delta, 1 + 2 * delta)
            vals = [_alive_core(rr, nd, bb, x[sel], z[sel], log1mz[sel]) for nd in nodes]
            out = np.zeros_like(vals[0])
            for i, (ni, vi) in enumerate(zip(nodes, vals, strict=True)):
                wgt = 1.0
                for j, nj in enumerate(nodes):
                    if j != i:
                        wgt *= (aa - nj) / (ni - nj)
                out = out + wgt * vi
            return out

    def wrong(v: np.ndarray, sel: np.ndarray | slice) -> np.ndarray:
        slack = 1e-9 * upper[sel] + 1e-300
        return ~np.isfinite(v) | (v < lower[sel] - slack) | (v > upper[sel] + slack)

    h = 1e-6
    if a > _HYP2F1_MAX_A or r > _HYP2F1_MAX_R:
        val = np.full(x.shape, np.nan)  # scipy's 2F1 is unreliable there: go robust directly
    elif abs((r - a) - round(r - a)) < 1e-8:
        # c - a - b = x + r - a + 1 is an integer: scipy's special path is NaN or inaccurate
        val = 0.5 * (
            core(r * (1 - h), a, b * (1 - h), slice(None))
            + core(r * (1 + h), a, b * (1 + h), slice(None))
        )
    else:
        val = core(r, a, b, slice(None))
    bad = wrong(val, slice(None))
    if bad.any() and a <= _HYP2F1_MAX_A and r <= _HYP2F1_MAX_R:
        val_lo = core(r * (1 - h), a, b * (1 - h), bad)
        val_hi = core(r * (1 + h), a, b * (1 + h), bad)
        val[bad] = 0.5 * (val_lo + val_hi)
        bad = wrong(val, slice(None))
    if bad.any():
        idx = np.flatnonzero(bad.ravel())
        val.flat[idx] = _alive_robust(r, a, b, x.ravel()[idx], u.ravel()[idx])
    return np.clip(val, lower, upper)


class DistinctPairs:
    """The distinct (x, T) pairs of many customers, and the way back to each customer.

    E[occasions | alive] depends on a customer only through x and T, which are whole days in
    practice: millions of customers share a few tens of thousands of pairs, so the costly 2F1
    is evaluated once per pair. (One hash pass over x + iT finds them.)
    """

    def __init__(self, x: np.ndarray, T: np.ndarray) -> None:
        codes, distinct = pd.factorize(x + 1j * T)
        self.codes = codes
        self.x = np.ascontiguousarray(distinct.real)
        self.T = np.ascontiguousarray(distinct.imag)

    def spread(self, per_pair: np.ndarray) -> np.ndarray:
        """Per-pair values back in customer order."""
        return per_pair[self.codes]


def expected_occasions(
    params: Any, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, horizon: ArrayLike
) -> np.ndarray | float:
    """E[occasions in (T, T + horizon] | x, t_x, T] under BG/NBD (paper eq. 10).

    Computed as p_alive * E[occasions | alive]; ``horizon`` is in the same unit as T and may be
    an array broadcastable against the customers.
    """
    r, alpha, a, b = bg_params(params)
    xa, ta, Ta, scalar = prediction_inputs(x, t_x, T)
    h = np.asarray(horizon, dtype=float)
    if not np.all(np.isfinite(h)) or np.any(h < 0):
        raise ValueError("horizon must be finite and non-negative")
    one_horizon = h.ndim == 0
    scalar = scalar and one_horizon
    xa, ta, Ta, h = np.broadcast_arrays(xa, ta, Ta, h)
    alive = special.expit(-log_odds_dead(r, alpha, a, b, xa, ta, Ta))
    if one_horizon and xa.size:
        pairs = DistinctPairs(xa.ravel(), Ta.ravel())
        expected = pairs.spread(expected_alive(r, alpha, a, b, pairs.x, pairs.T, float(h.flat[0])))
        return as_output(alive * expected.reshape(xa.shape), scalar)
    return as_output(alive * expected_alive(r, alpha, a, b, xa, Ta, h), scalar)
