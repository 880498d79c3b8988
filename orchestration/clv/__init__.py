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

Modules: ``results`` (the fitted models), ``fitting`` (input checks and the optimiser both
models share), ``bg_nbd``, ``gamma_gamma``, ``value`` (discounted CLV and the asset's calls),
``scoring`` (reads the warehouse: the nightly fit and the backtest).

References: Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing
Science 24(2); Fader & Hardie (2013), "The Gamma-Gamma model of monetary value".
"""

from orchestration.clv.bg_nbd import expected_occasions, fit_bg_nbd, p_alive
from orchestration.clv.gamma_gamma import expected_value_per_occasion, fit_gamma_gamma
from orchestration.clv.results import BgNbdResult, ClvFit, GammaGammaResult
from orchestration.clv.value import discounted_clv, fit_clv, holdout_metrics, score_customers

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
