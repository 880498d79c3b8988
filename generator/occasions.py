"""Purchase occasions (customer, day): a schedule per planted archetype (regular gaps, a
lapse, a comeback, ...) and a BG/NBD-like buy-till-you-die process for background customers."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from generator.archetypes import (
    ARCHETYPES,
    BACKGROUND,
    ENTHUSIAST,
    NAMED_SHARE,
    REFERRED,
    SECOND_REFERRAL,
)
from generator.codes import BACKGROUND_NEVER_BUY, NONE


def assign_archetypes(rng: np.random.Generator, n: int, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Archetype code per local customer, and for referred customers the enthusiast who referred
    them. Archetypes whose behaviour needs more history than ``days`` are not planted."""
    counts = [round(n * NAMED_SHARE) if a.named and days >= a.min_days else 0 for a in ARCHETYPES]
    per_enthusiast = 1 + (rng.random(counts[ENTHUSIAST]) < SECOND_REFERRAL)
    if sum(counts) + int(per_enthusiast.sum()) > n:  # a block too small to plant anything
        counts, per_enthusiast = [0] * len(ARCHETYPES), per_enthusiast[:0]
    arch = np.full(n, BACKGROUND, np.int64)
    start = 0
    for code, count in enumerate(counts):
        arch[start : start + count] = code
        start += count
    referrer = np.full(n, NONE, np.int64)
    referred = slice(start, start + int(per_enthusiast.sum()))
    arch[referred] = REFERRED
    referrer[referred] = np.repeat(np.flatnonzero(arch == ENTHUSIAST), per_enthusiast)
    return arch, referrer


def between(rng: np.random.Generator, low: int, high: int, size: int | np.ndarray) -> np.ndarray:
    """Integers in [low, high] inclusive (high may be an array)."""
    return rng.integers(low, np.asarray(high) + 1, size)


def _gaps(rng: np.random.Generator, mean: np.ndarray, jitter: float, k: int) -> np.ndarray:
    """A (customers, k) matrix of whole-day gaps around each customer's mean gap."""
    noise = rng.uniform(1 - jitter, 1 + jitter, (mean.size, k))
    return np.maximum(1, np.rint(mean[:, None] * noise)).astype(np.int64)


def _regular(
    rng: np.random.Generator,
    first_ago: np.ndarray,
    gap: tuple[float, float],
    jitter: float,
    stop_ago: int = 0,
    count: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Occasions every ~gap days from ``first_ago`` towards D, stopping before ``stop_ago``
    (or after ``count`` occasions). Returns (row into the inputs, ago)."""
    m = first_ago.size
    if m == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if count is None:
        k = int(np.ceil((first_ago.max() - stop_ago) / max(1.0, gap[0] * (1 - jitter)))) + 1
    else:
        k = int(count.max())
    mean = rng.uniform(gap[0], gap[1], m)
    offsets = np.concatenate(
        [np.zeros((m, 1), np.int64), np.cumsum(_gaps(rng, mean, jitter, max(k - 1, 0)), axis=1)],
        axis=1,
    )
    ago = first_ago[:, None] - offsets
    keep = ago >= stop_ago
    if count is not None:
        keep &= np.arange(k)[None, :] < count[:, None]
    rows, cols = np.nonzero(keep)
    return rows, ago[rows, cols]


def _series_ending(
    rng: np.random.Generator, last_ago: np.ndarray, n_occ: np.ndarray, gap: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_occ`` occasions every ~gap days, the last one ``last_ago`` days before D.
    Returns (row, ago, span in days from first to last)."""
    m, k = last_ago.size, int(n_occ.max(initial=1))
    gaps = _gaps(rng, rng.uniform(gap[0], gap[1], m), 0.25, max(k - 1, 1))
    gaps[np.arange(gaps.shape[1])[None, :] >= (n_occ - 1)[:, None]] = 0
    span = gaps.sum(axis=1)
    before_last = span[:, None] - np.cumsum(
        np.concatenate([np.zeros((m, 1), np.int64), gaps], 1), 1
    )
    ago = last_ago[:, None] + before_last[:, :k]
    rows, cols = np.nonzero(np.arange(k)[None, :] < n_occ[:, None])
    return rows, ago[rows, cols], span


def _loyal(rng, m, days):  # >= 8 occasions in 24m, tenure >= 450 d, gaps <= 56 d, recent
    return _regular(rng, between(rng, 450, min(1050, days - 1), m), (20, 45), 0.25)


def _lapsed(rng, m, days):  # 4-8 occasions, gaps <= 50 d (3x median <= 150), recency 200-500
    n_occ = between(rng, 4, 8, m)
    rows, ago, span = _series_ending(rng, np.zeros(m, np.int64), n_occ, (20, 40))
    recency = between(rng, 200, np.minimum(500, days - 1 - span), m)
    return rows, ago + recency[rows]


def _reborn(rng, m, days):  # 4-6 regular occasions, a 250-400 d gap, back 15-90 days ago
    n_occ = between(rng, 4, 6, m)
    rows, ago, span = _series_ending(rng, np.zeros(m, np.int64), n_occ, (20, 40))
    comeback = between(rng, 15, 90, m)
    gap = between(rng, 250, np.minimum(400, days - 1 - comeback - span), m)
    second = comeback - between(rng, 10, 30, m)
    has_second = (rng.random(m) < 0.5) & (second >= 0)
    idx = np.arange(m)
    return (
        np.concatenate([rows, idx, idx[has_second]]),
        np.concatenate([ago + (comeback + gap)[rows], comeback, second[has_second]]),
    )


def _one_time(rng, m, days):  # exactly one occasion 125-325 days ago
    return np.arange(m), between(rng, 125, min(325, days - 1), m)


def _new(rng, m, days):  # first occasion 0-60 days ago, sometimes a second one
    first = between(rng, 0, min(60, days - 1), m)
    second = first - between(rng, 5, 20, m)
    has_second = (rng.random(m) < 0.3) & (second >= 0)
    idx = np.arange(m)
    return np.concatenate([idx, idx[has_second]]), np.concatenate([first, second[has_second]])


def _none(rng, m, days):
    return np.empty(0, np.int64), np.empty(0, np.int64)


def _discount_hunter(rng, m, days):  # every 7-12 days for 450-600 days: F in the top quintile
    return _regular(rng, between(rng, 450, min(600, days - 1), m), (7, 12), 0.3)


def _below_zero(rng, m, days):  # a few small orders over the last 110-160 days
    return _regular(rng, between(rng, 110, 160, m), (18, 35), 0.2, stop_ago=5)


def _let_go(rng, m, days):  # every 25-40 days for 420-900 days, still buying
    return _regular(rng, between(rng, 420, min(900, days - 1), m), (25, 40), 0.2)


def _angry(rng, m, days):  # buys since 360-1050 days ago (before any planted voice)
    return _regular(rng, between(rng, 360, min(1050, days - 1), m), (30, 90), 0.3)


def _enthusiast(rng, m, days):  # buys since 400-1050 days ago (before its referrals sign up)
    return _regular(rng, between(rng, 400, min(1050, days - 1), m), (20, 60), 0.3)


def _referred(rng, m, days):  # first purchase 20-290 days ago, then up to 3 more
    first = between(rng, 20, min(290, days - 1), m)
    return _regular(rng, first, (15, 60), 0.3, count=between(rng, 1, 4, m))


def growth_days(rng: np.random.Generator, m: int, days: int) -> np.ndarray:
    """Start days for a growing business: mostly uniform, a third with density rising."""
    u = rng.random(m)
    rising = rng.random(m) < 0.35
    frac = np.where(rising, np.sqrt(u), u)
    return np.minimum(days - 1, np.floor(frac * days)).astype(np.int64)


def _buy_till_you_die(
    rng: np.random.Generator, m: int, days: int, mean_gap: float = 35.0
) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD-like purchasing: Poisson purchases at a gamma-distributed rate until a
    beta-geometric dropout. Returns (row, ago); some customers never buy."""
    buyers = np.flatnonzero(rng.random(m) >= BACKGROUND_NEVER_BUY)
    b = buyers.size
    first_day = growth_days(rng, b, days)
    rate = rng.gamma(0.9, 1.0 / mean_gap, b)
    n_buys = np.minimum(rng.geometric(rng.beta(1.0, 9.0, b)), 250)
    owner = np.repeat(np.arange(b), n_buys)
    gaps = rng.exponential(1.0, owner.size) / np.maximum(rate[owner], 1e-4)
    starts = np.cumsum(n_buys) - n_buys
    gaps[starts] = 0.0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[starts], n_buys)
    day = first_day[owner] + np.floor(np.minimum(elapsed, 10 * days)).astype(np.int64)
    keep = day <= days - 1
    return buyers[owner[keep]], (days - 1) - day[keep]


SCHEDULES: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "background": _buy_till_you_die,
    "loyal": _loyal,
    "lapsed": _lapsed,
    "reborn": _reborn,
    "one_time": _one_time,
    "new": _new,
    "prospect": _none,
    "discount_hunter": _discount_hunter,
    "below_zero": _below_zero,
    "let_go": _let_go,
    "angry": _angry,
    "enthusiast": _enthusiast,
    "employee": lambda rng, m, days: _buy_till_you_die(rng, m, days, mean_gap=30.0),
    "referred": _referred,
}


def occasions(
    rng: np.random.Generator, arch: np.ndarray, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every purchase occasion of the block as (local customer, day), by archetype."""
    custs, occ_days = [], []
    for code, archetype in enumerate(ARCHETYPES):
        members = np.flatnonzero(arch == code)
        if members.size == 0:
            continue
        rows, ago = SCHEDULES[archetype.name](rng, members.size, days)
        custs.append(members[rows])
        occ_days.append((days - 1) - ago)
    cust = np.concatenate(custs) if custs else np.empty(0, np.int64)
    day = np.concatenate(occ_days) if occ_days else np.empty(0, np.int64)
    assert day.size == 0 or (day.min() >= 0 and day.max() <= days - 1)
    return cust, day
