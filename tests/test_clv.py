"""Tests of the CLV model (orchestration.clv.model) against lifetimes, the papers and simulation.

Tolerances (and what they achieve today, for the record):
- parameters vs lifetimes 0.11.3 (penalizer 0): 1e-3 relative (achieved ~1e-7);
- total log-likelihood vs an independent implementation of the paper's formula and vs
  lifetimes' mean on rescaled time converted back (n * mean + sum(x) * ln(1/max T)): 1e-9 rel;
- p_alive vs lifetimes: 1e-4 absolute (achieved ~1e-7); conditional expected occasions vs
  lifetimes: 1e-4 relative (achieved ~1e-6); at identical parameters both agree to 1e-8;
- hard cases (x = 10,000, a == 1, r == a, z within 1e-5 of 1) vs mpmath at 50 digits,
  precomputed below: 1e-7 relative (achieved ~2e-9);
- parameter recovery on 20,000 simulated customers: within 4 standard errors of the truth.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from clv_simulation import BgNbdTruth, GammaGammaTruth, simulate_summary
from scipy.special import gammaln
from scipy.stats import spearmanr

from orchestration import clv
from orchestration.clv import bg_nbd, dropout, scoring
from orchestration.clv.fitting import Optimum

lifetimes = pytest.importorskip("lifetimes")

N_SIM = 20_000


# --------------------------------------------------------------------------------------------
# Independent implementations of the papers' log-likelihoods (not sharing code with clv.py)
# --------------------------------------------------------------------------------------------


def paper_bgnbd_loglik(params, x, t_x, T) -> float:
    """Fader, Hardie & Lee (2005), eq. (6): L = A1 * A2 * (A3 + [x>0] A4), summed in logs."""
    r, alpha, a, b = params
    x = np.asarray(x, float)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x)
    last = np.where(x > 0, np.logaddexp(a3, a4), a3)
    return float(np.sum(a1 + a2 + last))


def paper_gg_loglik(params, x, m) -> float:
    """Fader & Hardie (2013), eq. (1a): density of the mean of x gamma(p, nu) values."""
    p, q, g = params
    return float(
        np.sum(
            gammaln(p * x + q)
            - gammaln(p * x)
            - gammaln(q)
            + q * np.log(g)
            + (p * x - 1) * np.log(m)
            + p * x * np.log(x)
            - (p * x + q) * np.log(x * m + g)
        )
    )


def numeric_log_gradient(fun, params, h=1e-6) -> np.ndarray:
    """Central differences in log-parameters."""
    theta = np.log(np.asarray(list(params), float))
    grad = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        grad[j] = (fun(np.exp(theta + e)) - fun(np.exp(theta - e))) / (2 * h)
    return grad


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return simulate_summary(N_SIM, seed=2024, holdout=52.0)


@pytest.fixture(scope="module")
def ours(sim):
    return clv.fit_bg_nbd(sim["x"], sim["t_x"], sim["T"])


@pytest.fixture(scope="module")
def theirs(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lifetimes.BetaGeoFitter(penalizer_coef=0.0).fit(sim["x"], sim["t_x"], sim["T"])


@pytest.fixture(scope="module")
def ours_gg(sim):
    return clv.fit_gamma_gamma(sim["x"], sim["mean_value"])


@pytest.fixture(scope="module")
def theirs_gg(sim):
    rep = sim[sim["x"] > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lifetimes.GammaGammaFitter(penalizer_coef=0.0).fit(rep["x"], rep["mean_value"])


def rel(a, b) -> float:
    return abs(a - b) / abs(b)


# --------------------------------------------------------------------------------------------
# BG/NBD vs lifetimes and vs the paper
# --------------------------------------------------------------------------------------------


def test_bgnbd_parameters_match_lifetimes(ours, theirs):
    assert ours.converged and ours.method == "mle"
    for name in ("r", "alpha", "a", "b"):
        assert rel(getattr(ours, name), theirs.params_[name]) < 1e-3, name


def test_bgnbd_log_likelihood_is_the_papers_total(sim, ours, theirs):
    x, t_x, T = sim["x"].to_numpy(), sim["t_x"].to_numpy(), sim["T"].to_numpy()
    independent = paper_bgnbd_loglik((ours.r, ours.alpha, ours.a, ours.b), x, t_x, T)
    assert rel(ours.log_likelihood, independent) < 1e-9
    # lifetimes minimises the MEAN negative LL on time scaled by 1/max(T); each customer's
    # density then gains a factor max(T)^x, so total = n * mean + sum(x) * ln(1 / max T).
    from_lifetimes = -theirs._negative_log_likelihood_ * len(x) - x.sum() * math.log(T.max())
    assert rel(ours.log_likelihood, from_lifetimes) < 1e-9
    assert ours.log_likelihood >= from_lifetimes - 1e-6 * abs(from_lifetimes)
    assert ours.n_customers == len(x)


def test_bgnbd_gradient_is_zero_at_our_optimum(sim, ours):
    x, t_x, T = sim["x"].to_numpy(), sim["t_x"].to_numpy(), sim["T"].to_numpy()
    grad = numeric_log_gradient(lambda p: paper_bgnbd_loglik(p, x, t_x, T), ours.params.values())
    assert np.max(np.abs(grad)) / len(x) < 1e-6


def test_bgnbd_predictions_match_lifetimes(sim, ours, theirs):
    x, t_x, T = sim["x"], sim["t_x"], sim["T"]
    ours_alive = clv.p_alive(ours, x, t_x, T)
    theirs_alive = theirs.conditional_probability_alive(x, t_x, T)
    assert np.max(np.abs(ours_alive - theirs_alive)) < 1e-4
    for horizon in (4.0, 52.0):
        ours_e = clv.expected_occasions(ours, x, t_x, T, horizon)
        theirs_e = np.asarray(
            theirs.conditional_expected_number_of_purchases_up_to_time(horizon, x, t_x, T)
        )
        assert np.all(np.isfinite(theirs_e))
        assert np.max(np.abs(ours_e - theirs_e) / np.maximum(theirs_e, 1e-8)) < 1e-4
        # the same function at identical parameters: agreement to ~machine precision
        same = clv.expected_occasions(theirs.params_.to_dict(), x, t_x, T, horizon)
        assert np.max(np.abs(same - theirs_e) / np.maximum(theirs_e, 1e-8)) < 1e-8


def test_bgnbd_penalizer_matches_lifetimes(sim):
    sub = sim.iloc[:5000]
    ours = clv.fit_bg_nbd(sub["x"], sub["t_x"], sub["T"], penalizer=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = lifetimes.BetaGeoFitter(penalizer_coef=0.01).fit(sub["x"], sub["t_x"], sub["T"])
    for name in ("r", "alpha", "a", "b"):
        assert rel(getattr(ours, name), theirs.params_[name]) < 1e-3, name


def test_bgnbd_is_unit_agnostic(sim):
    weeks = clv.fit_bg_nbd(sim["x"], sim["t_x"], sim["T"])
    days = clv.fit_bg_nbd(sim["x"], sim["t_x"] * 7, sim["T"] * 7)
    for name in ("r", "a", "b"):
        assert rel(getattr(days, name), getattr(weeks, name)) < 1e-6
    assert rel(days.alpha, 7 * weeks.alpha) < 1e-6
    # a density over event times: each customer's likelihood scales by 7^-x
    assert rel(days.log_likelihood, weeks.log_likelihood - sim["x"].sum() * math.log(7)) < 1e-9
    e_weeks = clv.expected_occasions(weeks, sim["x"], sim["t_x"], sim["T"], 52.0)
    e_days = clv.expected_occasions(days, sim["x"], sim["t_x"] * 7, sim["T"] * 7, 364.0)
    assert np.allclose(e_days, e_weeks, rtol=1e-5, atol=1e-9)


def test_fit_is_deterministic(sim):
    sub = sim.iloc[:3000]
    first = clv.fit_bg_nbd(sub["x"], sub["t_x"], sub["T"])
    second = clv.fit_bg_nbd(sub["x"], sub["t_x"], sub["T"])
    assert first == second


def test_fit_on_threads_equals_the_fit_in_one_pass(sim, ours, monkeypatch):
    """Large fits sum the likelihood in parts on threads; the estimate must not change."""
    monkeypatch.setattr(bg_nbd, "_PARALLEL_MIN_CUSTOMERS", 1_000)
    threaded = clv.fit_bg_nbd(sim["x"], sim["t_x"], sim["T"])
    assert threaded.converged
    for name in ("r", "alpha", "a", "b"):
        assert rel(getattr(threaded, name), getattr(ours, name)) < 1e-8
    assert rel(threaded.log_likelihood, ours.log_likelihood) < 1e-12


def test_weights_equal_repeated_rows(sim):
    sub = sim.iloc[:2000]
    doubled = pd.concat([sub, sub])
    weighted = clv.fit_bg_nbd(sub["x"], sub["t_x"], sub["T"], weights=np.full(len(sub), 2.0))
    repeated = clv.fit_bg_nbd(doubled["x"], doubled["t_x"], doubled["T"])
    for name in ("r", "alpha", "a", "b"):
        assert rel(getattr(weighted, name), getattr(repeated, name)) < 1e-6
    assert rel(weighted.log_likelihood, repeated.log_likelihood) < 1e-9


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------


def test_gamma_gamma_matches_lifetimes(sim, ours_gg, theirs_gg):
    assert ours_gg.converged and ours_gg.method == "mle"
    assert rel(ours_gg.p, theirs_gg.params_["p"]) < 1e-3
    assert rel(ours_gg.q, theirs_gg.params_["q"]) < 1e-3
    assert rel(ours_gg.gamma, theirs_gg.params_["v"]) < 1e-3
    rep = sim[sim["x"] > 0]
    assert ours_gg.n_customers == len(rep)
    # lifetimes does not rescale money: its total is simply n * mean
    total = -theirs_gg._negative_log_likelihood_ * len(rep)
    assert rel(ours_gg.log_likelihood, total) < 1e-9
    independent = paper_gg_loglik(
        (ours_gg.p, ours_gg.q, ours_gg.gamma), rep["x"].to_numpy(), rep["mean_value"].to_numpy()
    )
    assert rel(ours_gg.log_likelihood, independent) < 1e-9
    grad = numeric_log_gradient(
        lambda pr: paper_gg_loglik(pr, rep["x"].to_numpy(), rep["mean_value"].to_numpy()),
        ours_gg.params.values(),
    )
    assert np.max(np.abs(grad)) / len(rep) < 1e-6


def test_expected_value_per_occasion(sim, ours_gg, theirs_gg):
    rep = sim[sim["x"] > 0]
    ours_v = clv.expected_value_per_occasion(ours_gg, rep["x"], rep["mean_value"])
    theirs_v = theirs_gg.conditional_expected_average_profit(rep["x"], rep["mean_value"])
    assert np.max(np.abs(ours_v - theirs_v) / theirs_v) < 1e-4
    # x == 0 (mean value NaN or anything): the population mean p*gamma/(q-1)
    pop = ours_gg.p * ours_gg.gamma / (ours_gg.q - 1)
    assert clv.expected_value_per_occasion(ours_gg, 0, np.nan) == pytest.approx(pop, rel=1e-12)
    assert clv.expected_value_per_occasion(ours_gg, 0, 123.0) == pytest.approx(pop, rel=1e-12)
    assert ours_gg.population_mean == pytest.approx(pop, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Simulation: the fit recovers the truth, predictions match what happens next
# --------------------------------------------------------------------------------------------


def test_fit_recovers_simulated_parameters(sim, ours, ours_gg):
    truth = BgNbdTruth()
    for name in ("r", "alpha", "a", "b"):
        z = (getattr(ours, name) - getattr(truth, name)) / ours.std_errors[name]
        assert abs(z) < 4, (name, getattr(ours, name), ours.std_errors[name])
    truth_gg = GammaGammaTruth()
    for name in ("p", "q", "gamma"):
        z = (getattr(ours_gg, name) - getattr(truth_gg, name)) / ours_gg.std_errors[name]
        assert abs(z) < 4, (name, getattr(ours_gg, name), ours_gg.std_errors[name])


def test_predictions_match_simulated_future(sim):
    truth = BgNbdTruth()
    params = (truth.r, truth.alpha, truth.a, truth.b)
    x, t_x, T = sim["x"], sim["t_x"], sim["T"]
    alive = clv.p_alive(params, x, t_x, T)
    z_alive = (sim["alive"] - alive).sum() / (np.std(sim["alive"] - alive) * math.sqrt(len(sim)))
    assert abs(z_alive) < 4
    predicted = clv.expected_occasions(params, x, t_x, T, 52.0)
    resid = sim["holdout_x"] - predicted
    assert abs(resid.sum() / (resid.std() * math.sqrt(len(sim)))) < 4


# --------------------------------------------------------------------------------------------
# Numerical stability
# --------------------------------------------------------------------------------------------

# (r, alpha, a, b, x, t_x, T, horizon, p_alive, expected occasions): mpmath, 50 digits
MPMATH_REFERENCE = [
    (0.243, 4.414, 0.793, 2.426, 2, 30.43, 38.86, 39.0, 0.726578570080673, 1.2260281747671444),
    (0.243, 4.414, 0.793, 2.426, 0, 0.0, 0.0, 52.0, 1.0, 1.4460505953964038),
    (0.5, 60.0, 1.0, 3.0, 4, 200.0, 400.0, 365.0, 0.31524901552053347, 0.9005204695369123),
    (0.7, 30.0, 0.7, 2.0, 10, 300.0, 310.0, 365.0, 0.919468214000581, 8.158892023595229),
    (0.3, 0.05, 18.5, 197.0, 20, 0.0, 0.0, 3650.0, 0.9211087420042644, 12.342857142857143),
    (0.8, 20.0, 0.6, 4.0, 10000, 9990.0, 10000.0, 365.0, 0.4342931738928311, 156.51756696371154),
    (2.0, 200.0, 3.0, 50.0, 10000, 9999.0, 10000.0, 30.0, 0.9992046875008245, 29.265716971914234),
    (0.1, 1.0, 0.05, 0.3, 1, 1.0, 10000.0, 365.0, 0.0005116985553733105, 2.0513966843618253e-05),
    (1.5, 10.0, 5.0, 0.2, 0, 0.0, 10000.0, 1.0, 1.0, 0.00014983215903687262),
    # a > 100 and r > 1000: scipy's 2F1 is bypassed for the logit-space quadrature
    (0.5, 60.0, 500.0, 1500.0, 3, 100.0, 300.0, 365.0, 0.14952759310475705, 0.3271273364029429),
    (2000.0, 400000.0, 0.7, 3.0, 5, 200.0, 300.0, 365.0, 0.8583494480650892, 1.46482337604356),
]


@pytest.mark.parametrize("case", MPMATH_REFERENCE)
def test_hard_cases_match_mpmath(case):
    r, alpha, a, b, x, t_x, T, horizon, ref_alive, ref_occ = case
    params = (r, alpha, a, b)
    assert clv.p_alive(params, x, t_x, T) == pytest.approx(ref_alive, rel=1e-9, abs=1e-15)
    assert clv.expected_occasions(params, x, t_x, T, horizon) == pytest.approx(ref_occ, rel=1e-7)


@pytest.mark.parametrize(
    "params",
    [
        (0.243, 30.9, 0.793, 2.426),  # CDNOW in days
        (0.5, 60.0, 1.0, 3.0),  # a == 1 exactly (the fallback's prior)
        (0.7, 30.0, 0.7, 2.0),  # r == a: an integer c - a - b in the 2F1
        (0.05, 0.01, 0.05, 0.05),  # tiny everything
        (20.0, 5.0, 30.0, 150.0),  # large everything
        (0.5, 60.0, 1e8, 1e8),  # the fit's parameter bounds
        (1e8, 1e6, 1e-8, 1e-8),
    ],
)
def test_predictions_finite_for_extreme_histories(params):
    x = np.array([0, 1, 10, 100, 1000, 10_000], float)
    T = np.array([0.0, 1.0, 100.0, 1000.0, 10_000.0])
    frac = np.array([0.0, 0.5, 1.0])
    xx, TT, ff = (v.ravel() for v in np.meshgrid(x, T, frac, indexing="ij"))
    t_x = np.where(xx > 0, ff * TT, 0.0)
    alive = clv.p_alive(params, xx, t_x, TT)
    assert np.all(np.isfinite(alive)) and np.all((alive >= 0) & (alive <= 1))
    r, alpha = params[0], params[1]
    for horizon in (1.0, 30.0, 365.0):
        occ = clv.expected_occasions(params, xx, t_x, TT, horizon)
        assert np.all(np.isfinite(occ)) and np.all(occ >= 0)
        # E[occasions] <= P(alive) * E[lambda | alive] * horizon
        assert np.all(occ <= alive * (r + xx) * horizon / (alpha + TT) * (1 + 1e-9) + 1e-12)
    # longer horizons never expect fewer occasions
    short = clv.expected_occasions(params, xx, t_x, TT, 30.0)
    long = clv.expected_occasions(params, xx, t_x, TT, 365.0)
    assert np.all(long >= short * (1 - 1e-12))


# --------------------------------------------------------------------------------------------
# Degenerate inputs: no exception, no NaN, the fallback is flagged
# --------------------------------------------------------------------------------------------


def assert_scores_finite(fit, summary):
    scores = clv.score_customers(
        fit, summary, margin_rate=0.3, cost_per_occasion=1.5, annual_discount_rate=0.1
    )
    assert len(scores) == len(summary)
    assert np.all(np.isfinite(scores.to_numpy()))
    return scores


def test_no_repeat_buyers_fall_back():
    n = 200
    rng = np.random.default_rng(1)
    summary = pd.DataFrame(
        {"x": np.zeros(n), "t_x": np.zeros(n), "T": rng.uniform(1, 300, n), "mean_value": np.nan}
    )
    fit = clv.fit_clv(summary, fallback_mean=25.0)
    assert fit.fallback_used
    assert not fit.bg_nbd.converged and fit.bg_nbd.method.startswith("fallback")
    assert "no repeat" in fit.bg_nbd.note
    assert not fit.gamma_gamma.converged and fit.gamma_gamma.method.startswith("fallback")
    assert fit.gamma_gamma.population_mean == pytest.approx(25.0)
    assert np.isfinite(fit.bg_nbd.log_likelihood)
    assert fit.notes and all(isinstance(note, str) for note in fit.notes)
    scores = assert_scores_finite(fit, summary)
    # nobody ever came back: well under one expected occasion per customer
    assert scores["expected_occasions_12m"].max() < 1.0
    assert (scores["p_alive"] == 1.0).all()


def test_three_customers_fall_back():
    summary = pd.DataFrame(
        {
            "x": [0, 2, 5],
            "t_x": [0.0, 40.0, 90.0],
            "T": [30.0, 100.0, 120.0],
            "mean_value": [np.nan, 30.0, 55.0],
        }
    )
    fit = clv.fit_clv(summary)
    assert fit.bg_nbd.method.startswith("fallback") and not fit.bg_nbd.converged
    assert "only 3 customers" in fit.bg_nbd.note
    assert fit.gamma_gamma.method.startswith("fallback")
    scores = assert_scores_finite(fit, summary)
    # the shrunk mean sits between the customer's own mean and the population mean
    pop = fit.gamma_gamma.population_mean
    assert min(30.0, pop) <= scores["expected_value_per_occasion"].iloc[1] <= max(30.0, pop)
    # a frequent, recent buyer is expected to buy more than a one-off
    assert scores["expected_occasions_12m"].iloc[2] > scores["expected_occasions_12m"].iloc[0]


def test_single_day_of_data_falls_back():
    n = 500
    summary = pd.DataFrame(
        {"x": np.zeros(n), "t_x": np.zeros(n), "T": np.zeros(n), "mean_value": np.nan}
    )
    fit = clv.fit_clv(summary, fallback_mean=40.0)
    assert fit.bg_nbd.method.startswith("fallback") and "T == 0" in fit.bg_nbd.note
    scores = assert_scores_finite(fit, summary)
    assert scores["expected_occasions_12m"].max() < 1e-6
    assert np.allclose(scores["expected_value_per_occasion"], 40.0)


def test_empty_summary():
    summary = pd.DataFrame({"x": [], "t_x": [], "T": [], "mean_value": []}, dtype=float)
    fit = clv.fit_clv(summary)
    assert fit.bg_nbd.n_customers == 0 and fit.bg_nbd.method.startswith("fallback")
    assert np.isfinite(fit.bg_nbd.log_likelihood) and np.isfinite(fit.gamma_gamma.log_likelihood)
    assert clv.score_customers(fit, summary).empty


def test_identical_spend_falls_back(sim):
    gg = clv.fit_gamma_gamma(sim["x"], np.where(sim["x"] > 0, 20.0, np.nan))
    assert gg.method.startswith("fallback") and "same mean value" in gg.note
    assert gg.population_mean == pytest.approx(20.0)


def test_non_convergence_keeps_best_iterate_or_falls_back(sim, monkeypatch):
    sub = sim.iloc[:3000]
    good = clv.fit_bg_nbd(sub["x"], sub["t_x"], sub["T"])
    real = bg_nbd.maximise

    def stalled(objective, theta0, bounds):
        opt = real(objective, theta0, bounds)
        return Optimum(opt.theta, opt.value, 7, False, "pretend it stalled", None)

    monkeypatch.setattr(bg_nbd, "maximise", stalled)
    kept = clv.fit_bg_nbd(sub["x"], sub["t_x"], sub["T"])
    assert not kept.converged and kept.method == "mle: not converged"
    assert "pretend it stalled" in kept.note and kept.r == pytest.approx(good.r)

    def lost(objective, theta0, bounds):
        theta = np.array([b[0] for b in bounds])  # every parameter at its lower bound
        return Optimum(theta, float("nan"), 3000, False, "ran away", None)

    monkeypatch.setattr(bg_nbd, "maximise", lost)
    fallback = clv.fit_bg_nbd(sub["x"], sub["t_x"], sub["T"])
    assert not fallback.converged and fallback.method.startswith("fallback")
    assert "ran away" in fallback.note
    assert np.all(np.isfinite(clv.expected_occasions(fallback, sub["x"], sub["t_x"], sub["T"], 52)))


def test_invalid_input_is_rejected_with_a_message():
    with pytest.raises(ValueError, match="exceeds T"):
        clv.fit_bg_nbd([1, 2], [5.0, 3.0], [4.0, 10.0])
    with pytest.raises(ValueError, match="negative"):
        clv.p_alive((1, 1, 1, 1), [-1], [0], [1])
    with pytest.raises(ValueError, match="NaN"):
        clv.fit_bg_nbd([1, np.nan], [1, 1], [2, 2])


# --------------------------------------------------------------------------------------------
# Discounted CLV and the backtest summary
# --------------------------------------------------------------------------------------------


def test_discounted_clv_undiscounted_equals_occasions_times_contribution(sim, ours, ours_gg):
    sub = sim.iloc[:500]
    margin = np.full(len(sub), 0.35)
    margin[:10] = np.nan  # unknown: population margin rate
    res = clv.discounted_clv(
        ours,
        ours_gg,
        sub["x"],
        sub["t_x"],
        sub["T"],
        sub["mean_value"],
        margin_rate=margin,
        cost_per_occasion=2.0,
        annual_discount_rate=0.0,
        units_per_year=52.0,
        population_margin_rate=0.35,
    )
    occ12 = clv.expected_occasions(ours, sub["x"], sub["t_x"], sub["T"], 52.0)
    assert np.allclose(res["expected_occasions"], occ12, rtol=1e-9, atol=1e-12)
    value = clv.expected_value_per_occasion(ours_gg, sub["x"], sub["mean_value"])
    assert np.allclose(res["clv"], occ12 * (value * 0.35 - 2.0), rtol=1e-9, atol=1e-9)


def test_customers_sharing_whole_day_histories_get_their_own_predictions(ours, ours_gg):
    """Predictions are computed once per distinct (x, T) pair and spread back: each customer
    must still get exactly what a call for that customer alone gives."""
    rng = np.random.default_rng(7)
    T = rng.integers(1, 40, 3000).astype(float)
    x = np.minimum(rng.integers(0, 6, 3000), T).astype(float)
    t_x = np.where(x > 0, np.floor(T * rng.random(3000)), 0.0)
    mean_value = np.where(x > 0, rng.gamma(4.0, 10.0, 3000), np.nan)
    together = clv.expected_occasions(ours, x, t_x, T, 30.0)
    clv_together = clv.discounted_clv(
        ours, ours_gg, x, t_x, T, mean_value, margin_rate=0.4, annual_discount_rate=0.1
    )["clv"]
    for i in rng.choice(3000, 40, replace=False):
        alone = clv.discounted_clv(
            ours,
            ours_gg,
            x[[i]],
            t_x[[i]],
            T[[i]],
            mean_value[[i]],
            margin_rate=0.4,
            annual_discount_rate=0.1,
            population_margin_rate=0.4,
        )
        assert together[i] == clv.expected_occasions(ours, x[i], t_x[i], T[i], 30.0)
        assert clv_together[i] == alone["clv"][0]


def test_discounted_clv_discounts_each_month_at_its_end(ours, ours_gg):
    x, t_x, T, m = np.array([3.0, 0.0]), np.array([40.0, 0.0]), np.array([60.0, 20.0]), 30.0
    rate = 0.12
    res = clv.discounted_clv(
        ours,
        ours_gg,
        x,
        t_x,
        T,
        np.array([m, np.nan]),
        margin_rate=0.4,
        cost_per_occasion=1.0,
        annual_discount_rate=rate,
        units_per_year=52.0,
    )
    value = clv.expected_value_per_occasion(ours_gg, x, np.array([m, np.nan]))
    cum = [clv.expected_occasions(ours, x, t_x, T, k * 52.0 / 12) for k in range(13)]
    expected = sum(
        (cum[k] - cum[k - 1]) * (value * 0.4 - 1.0) * (1 + rate) ** (-k / 12) for k in range(1, 13)
    )
    assert np.allclose(res["clv"], expected, rtol=1e-10)
    undiscounted = cum[12] * (value * 0.4 - 1.0)
    assert np.all(res["clv"] < undiscounted)


def test_fit_clv_and_score_customers_on_a_frame(sim):
    frame = (
        sim.iloc[:4000]
        .rename(columns={"x": "frequency"})
        .assign(margin_rate=0.3, cost=np.where(np.arange(4000) % 2 == 0, 1.0, np.nan))
    )
    fit = clv.fit_clv(frame, x="frequency")
    assert not fit.fallback_used and fit.notes == ()
    meta = fit.as_metadata()
    assert meta["bgnbd_converged"] and meta["gg_converged"] and not meta["clv_fallback_used"]
    scores = clv.score_customers(
        fit,
        frame,
        x="frequency",
        cost_per_occasion="cost",
        annual_discount_rate=0.08,
        units_per_year=52.0,
    )
    assert list(scores.columns) == [
        "p_alive",
        "expected_occasions_12m",
        "expected_value_per_occasion",
        "clv_12m",
    ]
    assert scores.index.equals(frame.index) and np.all(np.isfinite(scores.to_numpy()))


def test_holdout_metrics():
    out = clv.holdout_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert out["n"] == 3
    assert out["total_error_pct"] == pytest.approx(100 * (6 - 8) / 8)
    assert out["mae"] == pytest.approx(2 / 3)
    assert 0.9 < out["correlation"] <= 1.0
    flat = clv.holdout_metrics([0.0, 0.0], [0.0, 0.0])
    assert flat["total_error_pct"] is None and flat["correlation"] is None


# --------------------------------------------------------------------------------------------
# Short histories: an unidentified dropout process, and a backtest sized to the history
# --------------------------------------------------------------------------------------------

# A real export's first seven months, in days (the rates of the UCI sample), with a known small
# dropout: 1% of customers leave after each repeat occasion. On this seed the maximum likelihood
# lands on the no-dropout boundary (a -> 0), as it does on the real sample.
SHORT = BgNbdTruth(r=0.85, alpha=68.0, a=0.05, b=5.0)
SHORT_SEED = 3
SHORT_HOLDOUT = 120.0


def auc(truth, score) -> float:
    from scipy.stats import rankdata

    truth = np.asarray(truth, dtype=bool)
    ranks = rankdata(score)
    hits, misses = truth.sum(), (~truth).sum()
    return float((ranks[truth].sum() - hits * (hits + 1) / 2) / (hits * misses))


@pytest.fixture(scope="module")
def short():
    frame = simulate_summary(
        3000, bg=SHORT, T=(30.0, 210.0), holdout=SHORT_HOLDOUT, seed=SHORT_SEED
    )
    # the warehouse summary's shape: mean value 0 without a repeat, the mean of all occasions
    frame["mean_value"] = frame["mean_value"].fillna(0.0)
    return frame.assign(mean_value_all=frame["mean_value"].where(frame["x"] > 0, 10.0))


def test_a_boundary_fit_is_detected_as_an_unidentified_dropout(short):
    mle = clv.fit_bg_nbd(short["x"], short["t_x"], short["T"])
    check = dropout.check_dropout(mle, short["x"], short["t_x"], short["T"])
    assert check.assessed and not check.identified and check.boundary
    assert check.mean_dropout < dropout.BOUNDARY_MEAN_DROPOUT
    assert abs(check.likelihood_ratio) < dropout.NO_DROPOUT_MARGIN
    assert "boundary fit" in check.reason
    # that is why it matters: p_alive is 1 for everyone
    alive = clv.p_alive(mle, short["x"], short["t_x"], short["T"])
    assert alive.min() > 0.9999


def test_the_model_without_dropout_is_the_bgnbd_limit_a_to_zero(short):
    nbd = dropout.fit_no_dropout(short["x"], short["t_x"], short["T"])
    assert nbd.converged
    limit = paper_bgnbd_loglik((nbd.r, nbd.alpha, 1e-12, 1.0), short["x"], short["t_x"], short["T"])
    assert nbd.log_likelihood == pytest.approx(limit, rel=1e-9)
    # and no BG/NBD fit does worse than its own limit
    mle = clv.fit_bg_nbd(short["x"], short["t_x"], short["T"])
    assert mle.log_likelihood >= nbd.log_likelihood - 1e-6


def test_a_weak_prior_makes_p_alive_order_by_recency_and_frequency_again(short):
    rep = short["x"].to_numpy() > 0
    recency = (short["T"] - short["t_x"]).to_numpy()
    model = scoring.fit_model(short)
    assert model.model_method == "map" and model.remedy.startswith("p_alive from a weak prior")
    assert model.prior.strength == dropout.DEFAULT_PRIOR_STRENGTH  # no backtest offered
    bg = model.fit.bg_nbd
    alive = clv.p_alive(bg, short["x"], short["t_x"], short["T"])
    assert alive[rep].min() < 0.8 and alive[rep].std() > 0.01
    assert spearmanr(alive[rep], recency[rep]).correlation < -0.9
    # silent for 170 days after a first repeat at day 30: the more repeats, the likelier lost
    by_frequency = clv.p_alive(bg, np.array([1, 3, 6]), 30.0, 200.0)
    assert by_frequency[0] > by_frequency[1] > by_frequency[2]
    # it tells the customers who really left (simulation truth) from the others ...
    assert auc(short["alive"][rep], alive[rep]) > 0.65
    # ... and the mean dropout is nearer the truth than the boundary fit's zero
    truth = SHORT.a / (SHORT.a + SHORT.b)
    assert abs(bg.a / (bg.a + bg.b) - truth) < truth / 2


def test_the_prior_strength_is_chosen_by_the_holdout(short):
    choice = dropout.choose_prior_strength(
        short["x"], short["t_x"], short["T"], short["holdout_x"] > 0, SHORT_HOLDOUT
    )
    losses = {c["prior_strength"]: c["holdout_log_loss"] for c in choice.candidates}
    assert set(losses) == set(dropout.PRIOR_STRENGTHS)
    assert choice.strength == min(losses, key=losses.get)
    model = scoring.fit_model(short, choose=lambda: choice)
    assert model.prior is choice and f"strength {choice.strength:g}" in model.remedy


def test_an_identified_dropout_keeps_the_maximum_likelihood(sim, ours):
    check = dropout.check_dropout(ours, sim["x"], sim["t_x"], sim["T"])
    assert check.identified and not check.boundary and check.likelihood_ratio > 100
    frame = sim.assign(mean_value=sim["mean_value"].fillna(0.0))
    model = scoring.fit_model(frame.assign(mean_value_all=frame["mean_value"]))
    assert model.remedy == "none" and model.model_method == "mle" and model.prior is None
    assert model.fit.bg_nbd.params == pytest.approx(ours.params, rel=1e-6)


def test_the_weak_prior_does_not_move_a_fit_the_data_decide(sim, ours):
    weak = clv.fit_bg_nbd(sim["x"], sim["t_x"], sim["T"], dropout_prior=1.0)
    assert weak.method == "map: weak dropout prior"
    assert weak.params == pytest.approx(ours.params, rel=0.02)


def occasions_con(first: str, last: str, customers: int = 40):
    """An in-memory warehouse whose occasions span first .. last: every third day, one of
    ``customers`` customers in turn."""
    import duckdb

    con = duckdb.connect()
    con.execute("create schema intermediate")
    con.execute(
        """create table intermediate.int_purchase_occasions as
           select 'c' || (row_number() over (order by d) % ?) as customer_id,
                  d::DATE as occasion_date, 10.0 as net_revenue
           from range(?::TIMESTAMP, ?::TIMESTAMP + interval 1 day, interval 3 day) t(d)""",
        [customers, first, last],
    )
    return con


@pytest.mark.parametrize(
    ("first", "as_of", "status", "holdout", "calibration_end"),
    [
        ("2007-07-01", "2010-06-30", "ok", 180, "2010-01-01"),  # long: as configured
        ("2009-12-01", "2010-06-30", "ok", 91, "2010-03-31"),  # 7 months: 120 days calibration
        ("2010-01-10", "2010-06-30", "insufficient_history", None, None),  # under 6 months
    ],
)
def test_the_backtest_holdout_is_sized_to_the_history(
    first, as_of, status, holdout, calibration_end
):
    import datetime as dt

    con = occasions_con(first, as_of)
    config = {
        "holdout_days": 180,
        "backtest_min_calibration_days": 120,
        "backtest_min_holdout_days": 60,
    }
    window = scoring.backtest_window(con, dt.date.fromisoformat(as_of), config)
    assert (window.status, window.holdout_days) == (status, holdout)
    assert str(window.calibration_end) == str(calibration_end)
    result = scoring.backtest(con, dt.date.fromisoformat(as_of), config)
    if status == "ok":
        assert result.metrics["n"] > 0 and result.metrics["total_error_pct"] is not None
    else:  # no fake error figure
        assert result.metrics == scoring.NO_METRICS and result.model is None
        assert result.deciles.empty and "a backtest needs at least 120 days" in window.reason
