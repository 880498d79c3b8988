"""The fitted models and what the Dagster asset gets back: parameters named as in the papers,
the total log-likelihood, whether the fit converged and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class FitResult:
    """What every fitted (or fallback) model reports besides its parameters."""

    PREFIX: ClassVar[str]  # of its Dagster metadata keys

    log_likelihood: float
    converged: bool
    iterations: int
    n_customers: int
    method: str = "mle"
    note: str = ""
    std_errors: Mapping[str, float] | None = None

    @property
    def params(self) -> dict[str, float]:
        raise NotImplementedError

    @property
    def is_fallback(self) -> bool:
        return self.method.startswith("fallback")

    def derived(self) -> dict[str, Any]:
        """Figures computed from the parameters, reported beside them."""
        return {}

    def as_metadata(self) -> dict[str, Any]:
        """Flat, JSON-friendly dict (for Dagster metadata)."""
        figures = {
            **self.params,
            **self.derived(),
            "log_likelihood": self.log_likelihood,
            "converged": self.converged,
            "iterations": self.iterations,
            "n_customers": self.n_customers,
            "method": self.method,
            "note": self.note,
        }
        return {f"{self.PREFIX}_{k}": v for k, v in figures.items()}


@dataclass(frozen=True, kw_only=True)
class BgNbdResult(FitResult):
    """A fitted (or fallback) BG/NBD model.

    ``log_likelihood`` is the total over customers of the paper's individual likelihood, on the
    data as given (not a mean, not rescaled). ``method`` is ``"mle"`` for an interior maximum,
    ``"mle: not converged"`` when the best iterate was kept, ``"map: weak dropout prior"`` for a
    fit with ``dropout_prior`` (``clv.dropout``), or ``"fallback: ..."``.
    """

    PREFIX: ClassVar[str] = "bgnbd"

    r: float
    alpha: float
    a: float
    b: float

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


@dataclass(frozen=True, kw_only=True)
class GammaGammaResult(FitResult):
    """A fitted (or fallback) Gamma-Gamma spend model.

    ``log_likelihood`` is the total over the fit customers (x > 0 and mean value > 0) of the
    density of their observed mean value, as in Fader & Hardie's note; ``n_customers`` counts them.
    """

    PREFIX: ClassVar[str] = "gg"

    p: float
    q: float
    gamma: float

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean(self) -> float:
        """Expected value per occasion of a customer we know nothing about: p*gamma/(q-1)."""
        return self.p * self.gamma / (self.q - 1.0)

    def derived(self) -> dict[str, Any]:
        return {"population_mean": self.population_mean}


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
