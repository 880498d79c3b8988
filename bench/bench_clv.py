"""Benchmark: orchestration.clv.model vs lifetimes 0.11.3 on one simulated summary (not a test).

    .venv/bin/python bench/bench_clv.py                # 1,000,000 customers
    .venv/bin/python bench/bench_clv.py --n 200000 --skip-lifetimes

Simulates a BG/NBD + Gamma-Gamma population in days (ages uniform over two years), fits both
models with our code and with lifetimes (penalizer 0, its defaults otherwise), and prints the
parameters side by side, their largest relative difference, both total log-likelihoods and the
wall-clock speed ratio. lifetimes' fit() includes its autograd Hessian (it always computes one);
ours includes the Newton polish and standard errors, so both return comparable results.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from clv_simulation import BgNbdTruth, GammaGammaTruth, simulate_summary  # noqa: E402

from orchestration import clv  # noqa: E402

TRUTH = BgNbdTruth(r=0.5, alpha=60.0, a=0.7, b=3.0)  # days: one repeat every ~4 months
TRUTH_GG = GammaGammaTruth()


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="customers to simulate")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--skip-lifetimes", action="store_true")
    args = parser.parse_args()

    print(f"python {platform.python_version()} numpy {np.__version__} on {platform.machine()}")
    sim, t_sim = timed(
        lambda: simulate_summary(
            args.n, bg=TRUTH, gg=TRUTH_GG, T=(1.0, 730.0), holdout=365.0, seed=args.seed
        )
    )
    x, t_x, T = sim["x"].to_numpy(), sim["t_x"].to_numpy(), sim["T"].to_numpy()
    m = sim["mean_value"].to_numpy()
    rep = x > 0
    print(f"simulated {args.n:,} customers in {t_sim:.2f}s ({rep.sum():,} repeat buyers)")

    ours, t_ours = timed(lambda: clv.fit_bg_nbd(x, t_x, T))
    ours_gg, t_ours_gg = timed(lambda: clv.fit_gamma_gamma(x, m))
    out, t_pred = timed(
        lambda: clv.discounted_clv(
            ours,
            ours_gg,
            x,
            t_x,
            T,
            m,
            margin_rate=0.3,
            cost_per_occasion=2.0,
            annual_discount_rate=0.1,
        )
    )
    occ_1y, t_occ = timed(lambda: clv.expected_occasions(ours, x, t_x, T, 365.0))
    print(f"\nours  BG/NBD fit      {t_ours:8.2f}s  {ours.method}, {ours.iterations} iterations")
    print(f"ours  Gamma-Gamma fit {t_ours_gg:8.2f}s  {ours_gg.method}")
    print(f"ours  E[occasions 1y] {t_occ:8.2f}s  (one horizon)")
    print(f"ours  12-month CLV    {t_pred:8.2f}s  (12 monthly horizons + value + discounting)")
    print(f"      holdout: predicted {occ_1y.sum():,.0f} vs simulated {sim['holdout_x'].sum():,}")

    if args.skip_lifetimes:
        print("\nlifetimes skipped")
        return

    import lifetimes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs, t_theirs = timed(lambda: lifetimes.BetaGeoFitter(penalizer_coef=0.0).fit(x, t_x, T))
        theirs_gg, t_theirs_gg = timed(
            lambda: lifetimes.GammaGammaFitter(penalizer_coef=0.0).fit(x[rep], m[rep])
        )
        their_occ, t_their_occ = timed(
            lambda: np.asarray(
                theirs.conditional_expected_number_of_purchases_up_to_time(365.0, x, t_x, T)
            )
        )
    print(f"\nlifetimes BG/NBD fit      {t_theirs:8.2f}s")
    print(f"lifetimes Gamma-Gamma fit {t_theirs_gg:8.2f}s")
    print(f"lifetimes E[occasions 1y] {t_their_occ:8.2f}s  (one horizon)")

    print(f"\n{'param':>6} {'truth':>12} {'ours':>14} {'lifetimes':>14} {'rel diff':>10}")
    worst = 0.0
    for name in ("r", "alpha", "a", "b"):
        mine, theirs_v = getattr(ours, name), float(theirs.params_[name])
        diff = abs(mine - theirs_v) / abs(theirs_v)
        worst = max(worst, diff)
        print(f"{name:>6} {getattr(TRUTH, name):12.6g} {mine:14.8g} {theirs_v:14.8g} {diff:10.2e}")
    for name, their_name in (("p", "p"), ("q", "q"), ("gamma", "v")):
        mine, theirs_v = getattr(ours_gg, name), float(theirs_gg.params_[their_name])
        diff = abs(mine - theirs_v) / abs(theirs_v)
        worst = max(worst, diff)
        truth = getattr(TRUTH_GG, name)
        print(f"{name:>6} {truth:12.6g} {mine:14.8g} {theirs_v:14.8g} {diff:10.2e}")
    their_ll = -theirs._negative_log_likelihood_ * len(x) - x.sum() * math.log(T.max())
    print(
        f"\nBG/NBD total log-likelihood: ours {ours.log_likelihood:.6f}, lifetimes "
        f"{their_ll:.6f} (n * mean on scaled time + sum(x) ln(1/max T))"
    )
    finite = np.isfinite(their_occ)
    occ_diff = np.max(
        np.abs(occ_1y[finite] - their_occ[finite]) / np.maximum(their_occ[finite], 1e-8)
    )
    print(
        f"largest parameter rel diff {worst:.2e}; E[occasions 1y] rel diff {occ_diff:.2e} "
        f"({(~finite).sum()} non-finite in lifetimes)"
    )
    print(
        f"\nspeed-up BG/NBD fit: {t_theirs / t_ours:.1f}x   Gamma-Gamma fit: "
        f"{t_theirs_gg / t_ours_gg:.1f}x   E[occasions]: {t_their_occ / t_occ:.1f}x"
    )


if __name__ == "__main__":
    main()
