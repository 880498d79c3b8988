"""Customer lifetime value: BG/NBD occasions x Gamma-Gamma value per occasion (SPEC §4).

Pure numpy/scipy so that notebooks, the Dagster asset and the tests share one implementation.
Everything is unit-agnostic: ``x`` (repeat occasions), ``t_x`` (time of the last occasion since
the first) and ``T`` (age since the first occasion) may be in days or weeks as long as they and
every ``horizon`` use the same unit.

Public API
----------
- :func:`fit_bg_nbd` / :func:`fit_gamma_gamma`: maximum likelihood, returning frozen results with
  the parameters named as in the papers, the *total* log-likelihood, ``converged`` and a note.
- :func:`p_alive`, :func:`expected_occasions`, :func:`expected_value_per_occasion`: conditional
  predictions, vectorised, finite for every valid input.
- :func:`discounted_clv`: expected contribution over the next months, discounted monthly.
- :func:`fit_clv` / :func:`score_customers`: the two calls the Dagster asset makes.
- :func:`holdout_metrics`: predicted-vs-actual summary for the backtest.

References: Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing
Science 24(2); Fader & Hardie (2013), "The Gamma-Gamma model of monetary value".
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize, special

__all__ = [
    "BgNbdResult",
    "ClvFit",
    "GammaGammaResult",
    "discounted_clv",
    "expected_occasions",
    "expected_value_per_occasion",
    "fit_bg_nbd",
    "fit_clv",
    "fit_gamma_gamma",
    "holdout_metrics",
    "p_alive",
    "score_customers",
]

MIN_CUSTOMERS = 10
"""Below this many customers (or Gamma-Gamma fit customers) we do not attempt an MLE."""

# BG/NBD fallback dropout prior: Beta(1, 3), i.e. a 25% chance of dropping out after each
# repeat occasion -- the order of magnitude of published fits (CDNOW: a=0.79, b=2.43).
FALLBACK_A = 1.0
FALLBACK_B = 3.0
# Fallback gamma shape r is the pooled repeat count + 1/2 (Jeffreys), capped so a huge pooled
# count cannot produce extreme hypergeometric parameters.
FALLBACK_R_CAP = 100.0
# With no exposure at all (every T == 0) nothing says how fast anyone repeats: the fallback rate
# is then r / alpha = 0.5 / 1e9 per time unit, i.e. "no repeat occasion expected".
NO_EXPOSURE_ALPHA = 1e9
# Gamma-Gamma fallback: p = 1, q = 2 makes the conditional mean x/(x+1) * own mean + 1/(x+1) *
# population mean (one pseudo-occasion of shrinkage).
FALLBACK_P = 1.0
FALLBACK_Q = 2.0

_CONVERGED_STEP = 1e-6  # max |Newton step| in log-parameters accepted as converged
_FD_STEP = 1e-5  # finite-difference step (log-parameters) for the Hessian of the analytic gradient
_LOG_BOUND = math.log(1e8)
# scipy's hyp2f1 returns wrong finite values beyond these (checked against mpmath); the
# predictions then use the quadrature of _alive_robust instead.
_HYP2F1_MAX_A = 100.0
_HYP2F1_MAX_R = 1e3
# The likelihood over many repeat customers is summed in this many parts, one thread each; the
# split depends on the data only, so the fit is the same on any machine.
_LIKELIHOOD_PARTS = 4
_PARALLEL_MIN_CUSTOMERS = 200_000


def _dot(u: np.ndarray, v: np.ndarray) -> float:
    """Inner product without BLAS: threaded ddot stalls on a busy machine and its summation
    order (hence the last bits) may depend on the thread count; numpy's pairwise sum does not."""
    return float(np.sum(np.multiply(u, v)))


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BgNbdResult:
    """A fitted (or fallback) BG/NBD model.

    ``log_likelihood`` is the total over customers of the paper's individual likelihood, on the
    data as given (not a mean, not rescaled). ``method`` is ``"mle"`` for an interior maximum,
    ``"mle: not converged"`` when the best iterate was kept, or ``"fallback: ..."``.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    converged: bool
    iterations: int
    n_customers: int
    method: str = "mle"
    note: str = ""
    std_errors: Mapping[str, float] | None = None

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    @property
    def is_fallback(self) -> bool:
        return self.method.startswith("fallback")

    def as_metadata(self) -> dict[str, Any]:
        """Flat, JSON-friendly dict (for Dagster metadata)."""
        meta: dict[str, Any] = {f"bgnbd_{k}": v for k, v in self.params.items()}
        meta.update(
            bgnbd_log_likelihood=self.log_likelihood,
            bgnbd_converged=self.converged,
            bgnbd_iterations=self.iterations,
            bgnbd_n_customers=self.n_customers,
            bgnbd_method=self.method,
            bgnbd_note=self.note,
        )
        return meta


@dataclass(frozen=True)
class GammaGammaResult:
    """A fitted (or fallback) Gamma-Gamma spend model.

    ``log_likelihood`` is the total over the fit customers (x > 0 and mean value > 0) of the
    density of their observed mean value, as in Fader & Hardie's note; ``n_customers`` counts them.
    """

    p: float
    q: float
    gamma: float
    log_likelihood: float
    converged: bool
    iterations: int
    n_customers: int
    method: str = "mle"
    note: str = ""
    std_errors: Mapping[str, float] | None = None

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean(self) -> float:
        """Expected value per occasion of a customer we know nothing about: p*gamma/(q-1)."""
        return self.p * self.gamma / (self.q - 1.0)

    @property
    def is_fallback(self) -> bool:
        return self.method.startswith("fallback")

    def as_metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {f"gg_{k}": v for k, v in self.params.items()}
        meta.update(
            gg_population_mean=self.population_mean,
            gg_log_likelihood=self.log_likelihood,
            gg_converged=self.converged,
            gg_iterations=self.iterations,
            gg_n_customers=self.n_customers,
            gg_method=self.method,
            gg_note=self.note,
        )
        return meta


@dataclass(frozen=True)
class ClvFit:
    """Both fits of one run plus the human-readable notes about any fallback."""

    bg_nbd: BgNbdResult
    gamma_gamma: GammaGammaResult
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def fallback_used(self) -> bool:
        return self.bg_nbd.is_fallback or self.gamma_gamma.is_fallback

    def as_metadata(self) -> dict[str, Any]:
        meta = {**self.bg_nbd.as_metadata(), **self.gamma_gamma.as_metadata()}
        meta["clv_fallback_used"] = self.fallback_used
        meta["clv_notes"] = "; ".join(self.notes)
        return meta


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _as_float(name: str, values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return np.atleast_1d(arr)


def _check_summary(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
    """Reject impossible summaries with a message that names the problem."""
    if not (x.shape == t_x.shape == T.shape):
        raise ValueError(f"x, t_x and T differ in length: {x.shape}, {t_x.shape}, {T.shape}")
    for name, arr in (("x", x), ("t_x", t_x), ("T", T)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if np.any(arr < 0):
            raise ValueError(f"{name} contains negative values")
    if np.any(t_x > T * (1 + 1e-12) + 1e-12):
        raise ValueError("t_x (time of last occasion) exceeds T (age) for some customers")


def _weights(weights: ArrayLike | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = _as_float("weights", weights)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite, non-negative and one per customer")
    return w


# --------------------------------------------------------------------------------------------
# Optimiser shared by both models: L-BFGS-B in log-parameters, then Newton polishing
# --------------------------------------------------------------------------------------------


@dataclass
class _Optimum:
    theta: np.ndarray  # log-parameters
    value: float  # objective (mean negative log-likelihood + penalty)
    iterations: int
    converged: bool
    reason: str
    hessian: np.ndarray | None  # of the objective, in log-parameters


def _fd_hessian(grad: Callable[[np.ndarray], np.ndarray], theta: np.ndarray) -> np.ndarray:
    k = theta.size
    hess = np.empty((k, k))
    for j in range(k):
        step = np.zeros(k)
        step[j] = _FD_STEP
        hess[:, j] = (grad(theta + step) - grad(theta - step)) / (2 * _FD_STEP)
    return 0.5 * (hess + hess.T)


def _maximise(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta0: np.ndarray,
    bounds: list[tuple[float, float]],
) -> _Optimum:
    """Minimise ``objective`` (value, gradient) over log-parameters.

    L-BFGS-B gets close cheaply; Newton steps with a finite-difference Hessian of the analytic
    gradient (reused while it keeps working: the chord method) then make the answer precise to
    ~1e-10 even along the flat (a, b) ridge, which is what lets us agree with other
    implementations to 1e-3 and report standard errors.
    """

    def safe(theta: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            value, grad = objective(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e300, np.zeros_like(theta)
        return value, grad

    res = optimize.minimize(
        safe,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 3000, "ftol": 1e-14, "gtol": 1e-8, "maxcor": 20},
    )
    theta = np.asarray(res.x, dtype=float)
    value, grad = safe(theta)
    iterations = int(res.nit)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])

    def grad_only(th: np.ndarray) -> np.ndarray:
        return safe(th)[1]

    hessian: np.ndarray | None = None
    chol: np.ndarray | None = None
    step_size = np.inf
    fresh = False  # is the factorised Hessian from the current point?
    for _ in range(20):
        if chol is None:
            hessian = _fd_hessian(grad_only, theta)
            fresh = True
            try:
                chol = np.linalg.cholesky(hessian)
            except np.linalg.LinAlgError:
                break  # not a strict local minimum: keep the L-BFGS-B answer
        step = -np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
        previous = step_size
        step_size = float(np.max(np.abs(step)))
        if step_size < 1e-10:
            break
        scale, accepted = 1.0, False
        for _ in range(30):
            trial = np.clip(theta + scale * step, lo, hi)
            t_value, t_grad = safe(trial)
            if t_value <= value + 1e-14 * max(1.0, abs(value)):
                theta, value, grad, accepted = trial, t_value, t_grad, True
                break
            scale *= 0.5
        iterations += 1
        if not accepted:
            if fresh:
                break
            chol = None  # the stale Hessian misled us: refresh it and retry
            continue
        if scale < 1.0 or (not fresh and step_size > 0.1 * previous):
            chol = None  # far from quadratic territory, or the chord method is too slow
        fresh = False
    at_bound = bool(np.any(theta <= lo + 1e-6) or np.any(theta >= hi - 1e-6))
    positive_definite = hessian is not None and bool(np.all(np.linalg.eigvalsh(hessian) > 0))
    if at_bound:
        reason = "a parameter ran to its bound (the likelihood is maximised at infinity or 0)"
    elif not positive_definite:
        reason = "no strict local maximum (Hessian not negative definite)"
    elif step_size > _CONVERGED_STEP:
        reason = f"Newton steps did not shrink below {_CONVERGED_STEP:g}"
    else:
        reason = ""
    return _Optimum(theta, value, iterations, not reason, reason, hessian)


def _std_errors(
    names: tuple[str, ...], params: np.ndarray, hessian: np.ndarray | None, total_weight: float
) -> dict[str, float] | None:
    """Delta-method standard errors from the Hessian of the mean NLL in log-parameters."""
    if hessian is None:
        return None
    try:
        cov_log = np.linalg.inv(hessian * total_weight)
    except np.linalg.LinAlgError:
        return None
    var = np.diag(cov_log)
    if np.any(~np.isfinite(var)) or np.any(var <= 0):
        return None
    return {n: float(p * math.sqrt(v)) for n, p, v in zip(names, params, var, strict=True)}


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------


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
    shared = _dot(
        wx,
        gl(r + ux) - gl(r) + gl(b + ux) - gl(b) - gl(a + b + ux) + gl(a + b),
    )
    ll = shared + W * r * math.log(alpha)

    lnA0 = np.log(alpha + d.T0)
    ll -= r * _dot(d.w0, lnA0)

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
    g_r = _dot(wx, dg(r + ux) - dg(r)) + W * math.log(alpha) - _dot(d.w0, lnA0) + repeaters[1]
    g_alpha = W * r / alpha - r * _dot(d.w0, 1.0 / (alpha + d.T0)) + repeaters[2]
    g_a = _dot(wx, dg(a + b) - dg(a + b + ux)) + repeaters[3] / a
    g_b = _dot(wx, dg(b + ux) - dg(b) - dg(a + b + ux) + dg(a + b)) - repeaters[4]
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
    ll = _dot(wp, np.logaddexp(0.0, dlt) - rx * lnAT)
    if not with_grad:
        return np.array([ll, 0.0, 0.0, 0.0, 0.0])
    s = special.expit(dlt)  # posterior weight of "dropped out right after t_x"
    ws = wp * s
    inv_T = 1.0 / (alpha + Tp)
    inv_t = 1.0 / (alpha + tp)
    return np.array(
        [
            ll,
            _dot(wp, -lnAT) + _dot(ws, lrat),
            -_dot(wp * rx, inv_T) + _dot(ws * rx, inv_T - inv_t),
            float(ws.sum()),
            _dot(ws, 1.0 / bx1),
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
    repeats = float(_dot(d.wx, d.ux))
    exposure = float(_dot(d.w0, d.T0) + _dot(d.wp, d.Tp))
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
    weights: ArrayLike | None = None,
    min_customers: int = MIN_CUSTOMERS,
) -> BgNbdResult:
    """Maximum-likelihood BG/NBD fit (Fader, Hardie & Lee 2005).

    ``x`` repeat occasions, ``t_x`` time of the last occasion since the first, ``T`` age since
    the first occasion, all in one time unit. ``weights`` counts identical customers.
    ``penalizer`` adds ``penalizer * (r^2 + (alpha/max T)^2 + a^2 + b^2)`` to the mean negative
    log-likelihood -- the same L2 term as ``lifetimes`` (which rescales time by 1/max T), so a
    penalised fit matches theirs; ``log_likelihood`` is always the unpenalised total.

    Falls back to :func:`_bg_fallback` (pooled rate, fixed dropout prior; ``converged=False``,
    ``method="fallback: ..."``) with fewer than ``min_customers`` customers, no repeat occasion,
    no exposure (every T == 0), or when the optimiser ends somewhere non-finite or worse than the
    fallback. An optimiser that stops short of a clean interior maximum but beats the fallback
    keeps its best iterate with ``converged=False`` and ``method="mle: not converged"``.
    """
    xa, ta, Ta = _as_float("x", x), _as_float("t_x", t_x), _as_float("T", T)
    _check_summary(xa, ta, Ta)
    w = _weights(weights, xa.size)
    ta = np.where(xa > 0, np.minimum(ta, Ta), 0.0)  # t_x is meaningless without a repeat
    d = _bg_data(xa, ta, Ta, w)
    n = int(round(d.total_weight))
    repeats = float(_dot(d.wx, d.ux))
    exposure = float(_dot(d.w0, d.T0) + _dot(d.wp, d.Tp))

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
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * 4
    bounds[1] = (-_LOG_BOUND - log_ts, _LOG_BOUND - log_ts)
    theta0 = np.clip(np.log(start), [b[0] for b in bounds], [b[1] for b in bounds])
    W = d.total_weight
    pen_scale = np.array([1.0, time_scale, 1.0, 1.0])

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        ll, grad = _bg_loglik(params, d)
        scaled = params * pen_scale
        value = -ll / W + penalizer * float(np.sum(scaled**2))
        gtheta = -grad * params / W + 2.0 * penalizer * scaled**2
        return value, gtheta

    opt = _maximise(objective, theta0, bounds)
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
    return BgNbdResult(
        r=float(params[0]),
        alpha=float(params[1]),
        a=float(params[2]),
        b=float(params[3]),
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
        std_errors=_std_errors(names, params, opt.hessian, W) if opt.converged else None,
    )


# --------------------------------------------------------------------------------------------
# BG/NBD predictions
# --------------------------------------------------------------------------------------------


def _bg_params(params: Any) -> tuple[float, float, float, float]:
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


def _prediction_inputs(
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


def _out(values: np.ndarray, scalar: bool) -> np.ndarray | float:
    return float(values.reshape(-1)[0]) if scalar else values


def _log_odds_dead(
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
    r, alpha, a, b = _bg_params(params)
    xa, ta, Ta, scalar = _prediction_inputs(x, t_x, T)
    return _out(special.expit(-_log_odds_dead(r, alpha, a, b, xa, ta, Ta)), scalar)


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


def _expected_alive(
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


class _DistinctPairs:
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
    r, alpha, a, b = _bg_params(params)
    xa, ta, Ta, scalar = _prediction_inputs(x, t_x, T)
    h = np.asarray(horizon, dtype=float)
    if not np.all(np.isfinite(h)) or np.any(h < 0):
        raise ValueError("horizon must be finite and non-negative")
    one_horizon = h.ndim == 0
    scalar = scalar and one_horizon
    xa, ta, Ta, h = np.broadcast_arrays(xa, ta, Ta, h)
    alive = special.expit(-_log_odds_dead(r, alpha, a, b, xa, ta, Ta))
    if one_horizon and xa.size:
        pairs = _DistinctPairs(xa.ravel(), Ta.ravel())
        expected = pairs.spread(_expected_alive(r, alpha, a, b, pairs.x, pairs.T, float(h.flat[0])))
        return _out(alive * expected.reshape(xa.shape), scalar)
    return _out(alive * _expected_alive(r, alpha, a, b, xa, Ta, h), scalar)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------


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
        sum_wx_log_m=float(_dot(w * x, log_m)),
        sum_w_log_m=float(_dot(w, log_m)),
        sum_wx_log_x=float(_dot(w * x, np.log(x))),
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
    sum_x_log = _dot(d.w_x, log_xm_g)
    sum_log = _dot(d.w, log_xm_g)
    ll = (
        _dot(wx, gl(px_u + q) - gl(px_u))
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
    g_p = _dot(wx * ux, dg(px_u + q) - dg(px_u)) + d.sum_wx_log_m + d.sum_wx_log_x - sum_x_log
    g_q = _dot(wx, dg(px_u + q)) - W * dg(q) + W * math.log(g) - sum_log
    g_g = W * q / g - p * _dot(d.w_x, inv) - q * _dot(d.w, inv)
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
        mu = float(_dot(d.w * d.x, d.m) / _dot(d.w, d.x))
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
    xa = _as_float("x", x)
    ma = _as_float("mean_value", mean_value)
    if xa.shape != ma.shape:
        raise ValueError(f"x and mean_value differ in length: {xa.shape}, {ma.shape}")
    if not np.all(np.isfinite(xa)) or np.any(xa < 0):
        raise ValueError("x must be finite and non-negative")
    w = _weights(weights, xa.size)
    use = (xa > 0) & np.isfinite(ma) & (ma > 0) & (w > 0)
    d = _gg_data(xa[use], ma[use], w[use])
    n = int(round(d.total_weight))

    if d.total_weight < min_customers:
        return _gg_fallback(
            d, f"only {n} customers with repeat occasions (< {min_customers})", fallback_mean
        )
    if np.ptp(d.m) <= 1e-12 * float(np.max(d.m)):
        return _gg_fallback(d, "every customer has the same mean value", fallback_mean)

    mean_m = float(_dot(d.w, d.m) / d.total_weight)
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
        (-_LOG_BOUND, _LOG_BOUND),
        (-_LOG_BOUND, _LOG_BOUND),
        (-_LOG_BOUND + log_m, _LOG_BOUND + log_m),
    ]
    theta0 = np.clip(np.log(start), [b[0] for b in bounds], [b[1] for b in bounds])
    W = d.total_weight

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        ll, grad = _gg_loglik(params, d)
        value = -ll / W + penalizer * float(np.sum(params**2))
        return value, -grad * params / W + 2.0 * penalizer * params**2

    opt = _maximise(objective, theta0, bounds)
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
            _std_errors(("p", "q", "gamma"), params, opt.hessian, W) if opt.converged else None
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
    return _out((p * g + p * xk * mk) / (p * xk + q - 1.0), scalar)


# --------------------------------------------------------------------------------------------
# CLV
# --------------------------------------------------------------------------------------------


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
    r, alpha, a, b = _bg_params(bg)
    xa, ta, Ta, _ = _prediction_inputs(x, t_x, T)
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
    alive = special.expit(-_log_odds_dead(r, alpha, a, b, xa, ta, Ta))
    month = units_per_year / 12.0
    per_occasion = value * margin - cost
    pairs = _DistinctPairs(xa, Ta)
    clv = np.zeros(n)
    previous = np.zeros(n)
    for m in range(1, months + 1):
        cumulative = alive * pairs.spread(
            _expected_alive(r, alpha, a, b, pairs.x, pairs.T, m * month)
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


# --------------------------------------------------------------------------------------------
# What the Dagster asset calls
# --------------------------------------------------------------------------------------------


def fit_clv(
    summary: pd.DataFrame,
    *,
    x: str = "x",
    t_x: str = "t_x",
    T: str = "T",
    mean_value: str = "mean_value",
    penalizer: float = 0.0,
    min_customers: int = MIN_CUSTOMERS,
    fallback_mean: float | None = None,
) -> ClvFit:
    """Fit BG/NBD and Gamma-Gamma on a per-customer summary frame (column names configurable).

    ``fallback_mean``: the value per occasion to assume when no customer has a repeat occasion
    (the asset passes the mean value of all occasions). Never raises for degenerate data; every
    fallback is described in ``ClvFit.notes`` and in the results' ``method`` / ``note``.
    """
    if summary.empty:
        zeros = np.zeros(0)
        bg = fit_bg_nbd(zeros, zeros, zeros, min_customers=min_customers)
        gg = fit_gamma_gamma(zeros, zeros, min_customers=min_customers, fallback_mean=fallback_mean)
    else:
        bg = fit_bg_nbd(
            summary[x], summary[t_x], summary[T], penalizer=penalizer, min_customers=min_customers
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
        if not res.converged:
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
