"""What both models' maximum likelihood shares: input checks, and the optimiser (L-BFGS-B in
log-parameters, then Newton polishing, standard errors from the Hessian)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize

MIN_CUSTOMERS = 10
"""Below this many customers (or Gamma-Gamma fit customers) we do not attempt an MLE."""

_CONVERGED_STEP = 1e-6  # max |Newton step| in log-parameters accepted as converged
_FD_STEP = 1e-5  # finite-difference step (log-parameters) for the Hessian of the analytic gradient
LOG_BOUND = math.log(1e8)


def dot(u: np.ndarray, v: np.ndarray) -> float:
    """Inner product without BLAS: threaded ddot stalls on a busy machine and its summation
    order (hence the last bits) may depend on the thread count; numpy's pairwise sum does not."""
    return float(np.sum(np.multiply(u, v)))


def as_float(name: str, values: ArrayLike) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return np.atleast_1d(arr)


def check_summary(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> None:
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


def weights_of(weights: ArrayLike | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = as_float("weights", weights)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite, non-negative and one per customer")
    return w


@dataclass
class Optimum:
    theta: np.ndarray  # log-parameters
    value: float  # objective (mean negative log-likelihood + penalty)
    iterations: int
    converged: bool
    reason: str
    hessian: np.ndarray | None  # of the objective, in log-parameters


def fd_hessian(grad: Callable[[np.ndarray], np.ndarray], theta: np.ndarray) -> np.ndarray:
    k = theta.size
    hess = np.empty((k, k))
    for j in range(k):
        step = np.zeros(k)
        step[j] = _FD_STEP
        hess[:, j] = (grad(theta + step) - grad(theta - step)) / (2 * _FD_STEP)
    return 0.5 * (hess + hess.T)


def maximise(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta0: np.ndarray,
    bounds: list[tuple[float, float]],
) -> Optimum:
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
            hessian = fd_hessian(grad_only, theta)
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
    return Optimum(theta, value, iterations, not reason, reason, hessian)


def std_errors(
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
