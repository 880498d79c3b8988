"""Simulate one block of customers as numeric event tables (no text yet).

Time is in seconds from the start of the first day of the data (day 0, 00:00:00); ``ago`` is
days before the last day ``D``. Everything is vectorised over the block: a block of 10k
customers is a few hundred numpy calls, whatever its number of order lines.

Purchase *occasions* (customer, day) come from a schedule per archetype (regular gaps for the
planted ones, a BG/NBD-like buy-till-you-die process for background customers); each occasion
becomes orders, order lines, returns, tickets and survey answers drawn from the archetype's
:class:`~orchestration.generate_archetypes.Profile`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from orchestration import generate_catalogue as gc
from orchestration.generate_archetypes import (
    ARCHETYPES,
    BACKGROUND,
    CODE,
    EMPLOYEE,
    ENTHUSIAST,
    NAMED_SHARE,
    REFERRED,
    SECOND_REFERRAL,
    ProfileTable,
)

DAY = 86_400
GUEST_ORDER_SHARE = 0.03
BACKGROUND_NEVER_BUY = 0.10
BACKGROUND_REFERRED = 0.06
STATUS_COMPLETED, STATUS_CANCELLED, STATUS_RETURNED = 0, 1, 2
NONE = -1  # "empty" in integer columns

Arrays = dict[str, np.ndarray]


@dataclass
class Block:
    """One block's customers and events; customer columns are indexed by local customer."""

    arch: np.ndarray
    customers: Arrays
    lines: Arrays
    order_ts: np.ndarray  # per local order: when it was placed (orders are numbered by it)
    tickets: Arrays
    surveys: Arrays
    tags: Arrays


# ---------------------------------------------------------------------------------------------
# Archetype assignment


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


# ---------------------------------------------------------------------------------------------
# Occasion schedules (ago = days before D)


def _between(rng: np.random.Generator, low: int, high: int, size: int | np.ndarray) -> np.ndarray:
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
    return _regular(rng, _between(rng, 450, min(1050, days - 1), m), (20, 45), 0.25)


def _lapsed(rng, m, days):  # 4-8 occasions, gaps <= 50 d (3x median <= 150), recency 200-500
    n_occ = _between(rng, 4, 8, m)
    rows, ago, span = _series_ending(rng, np.zeros(m, np.int64), n_occ, (20, 40))
    recency = _between(rng, 200, np.minimum(500, days - 1 - span), m)
    return rows, ago + recency[rows]


def _reborn(rng, m, days):  # 4-6 regular occasions, a 250-400 d gap, back 15-90 days ago
    n_occ = _between(rng, 4, 6, m)
    rows, ago, span = _series_ending(rng, np.zeros(m, np.int64), n_occ, (20, 40))
    comeback = _between(rng, 15, 90, m)
    gap = _between(rng, 250, np.minimum(400, days - 1 - comeback - span), m)
    second = comeback - _between(rng, 10, 30, m)
    has_second = (rng.random(m) < 0.5) & (second >= 0)
    idx = np.arange(m)
    return (
        np.concatenate([rows, idx, idx[has_second]]),
        np.concatenate([ago + (comeback + gap)[rows], comeback, second[has_second]]),
    )


def _one_time(rng, m, days):  # exactly one occasion 125-325 days ago
    return np.arange(m), _between(rng, 125, min(325, days - 1), m)


def _new(rng, m, days):  # first occasion 0-60 days ago, sometimes a second one
    first = _between(rng, 0, min(60, days - 1), m)
    second = first - _between(rng, 5, 20, m)
    has_second = (rng.random(m) < 0.3) & (second >= 0)
    idx = np.arange(m)
    return np.concatenate([idx, idx[has_second]]), np.concatenate([first, second[has_second]])


def _none(rng, m, days):
    return np.empty(0, np.int64), np.empty(0, np.int64)


def _discount_hunter(rng, m, days):  # every 7-12 days for 450-600 days: F in the top quintile
    return _regular(rng, _between(rng, 450, min(600, days - 1), m), (7, 12), 0.3)


def _below_zero(rng, m, days):  # a few small orders over the last 110-160 days
    return _regular(rng, _between(rng, 110, 160, m), (18, 35), 0.2, stop_ago=5)


def _let_go(rng, m, days):  # every 25-40 days for 420-900 days, still buying
    return _regular(rng, _between(rng, 420, min(900, days - 1), m), (25, 40), 0.2)


def _angry(rng, m, days):  # buys since 360-1050 days ago (before any planted voice)
    return _regular(rng, _between(rng, 360, min(1050, days - 1), m), (30, 90), 0.3)


def _enthusiast(rng, m, days):  # buys since 400-1050 days ago (before its referrals sign up)
    return _regular(rng, _between(rng, 400, min(1050, days - 1), m), (20, 60), 0.3)


def _referred(rng, m, days):  # first purchase 20-290 days ago, then up to 3 more
    first = _between(rng, 20, min(290, days - 1), m)
    return _regular(rng, first, (15, 60), 0.3, count=_between(rng, 1, 4, m))


def _growth_days(rng: np.random.Generator, m: int, days: int) -> np.ndarray:
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
    first_day = _growth_days(rng, b, days)
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


# ---------------------------------------------------------------------------------------------
# Orders and lines


def _pick(rng: np.random.Generator, cdf: np.ndarray) -> np.ndarray:
    """One category per row of a (rows, k) cumulative-probability matrix."""
    u = rng.random(cdf.shape[0])
    return np.minimum((u[:, None] > cdf).sum(axis=1), cdf.shape[1] - 1)


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    hours = np.asarray(gc.HOUR_WEIGHTS, float)
    hour = rng.choice(24, size=n, p=hours / hours.sum())
    return hour * 3600 + rng.integers(0, 3600, n)


def _rank_within(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within runs of equal values of a sorted array."""
    if group.size == 0:
        return group.copy()
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    lengths = np.diff(np.r_[starts, group.size])
    return np.arange(group.size) - np.repeat(starts, lengths)


def make_orders(
    rng: np.random.Generator,
    occ_cust: np.ndarray,
    occ_day: np.ndarray,
    arch: np.ndarray,
    table: ProfileTable,
) -> Arrays:
    """Orders per occasion: the purchase, sometimes a second one, sometimes an extra cancelled
    one the same day; plus guest orders on days drawn like everyone else's."""
    a = arch[occ_cust]
    second = rng.random(occ_cust.size) < table.p_second[a]
    extra = rng.random(occ_cust.size) < table.p_cancel_extra[a]
    cancelled = rng.random(occ_cust.size) < table.p_cancel[a]
    n_guest = rng.binomial(occ_cust.size, GUEST_ORDER_SHARE) if occ_cust.size else 0
    guest_day = occ_day[rng.integers(0, max(occ_cust.size, 1), n_guest)] if n_guest else occ_day[:0]
    cust = np.concatenate([occ_cust, occ_cust[second], occ_cust[extra], np.full(n_guest, NONE)])
    day = np.concatenate([occ_day, occ_day[second], occ_day[extra], guest_day])
    status = np.concatenate(
        [
            np.where(cancelled, STATUS_CANCELLED, STATUS_COMPLETED),
            np.full(int(second.sum()), STATUS_COMPLETED),
            np.full(int(extra.sum()), STATUS_CANCELLED),
            np.full(n_guest, STATUS_COMPLETED),
        ]
    )
    primary = np.zeros(cust.size, bool)
    primary[: occ_cust.size] = ~cancelled
    order_arch = np.where(cust >= 0, arch[np.maximum(cust, 0)], BACKGROUND)
    channel = rng.choice(len(gc.ORDER_CHANNELS), cust.size, p=gc.ORDER_CHANNEL_WEIGHTS)
    channel[table.cheap[order_arch] & (channel == gc.STORE)] = 0  # small parcels ship
    ts = day * DAY + _time_of_day(rng, cust.size)
    return {
        "cust": cust,
        "day": day,
        "ts": ts,
        "status": status,
        "primary": primary,
        "arch": order_arch,
        "channel": channel,
    }


def make_lines(
    rng: np.random.Generator,
    orders: Arrays,
    business: np.ndarray,
    cat: gc.Catalogue,
    table: ProfileTable,
) -> Arrays:
    """Merchandise lines (1-5 per order), postage/fee/gift-wrap lines, shipping on line 1."""
    n_orders = orders["cust"].size
    a = orders["arch"]
    n_lines = 1 + _pick(rng, table.lines_cdf[a])
    order = np.repeat(np.arange(n_orders), n_lines)
    la = a[order]
    cheap = table.cheap[la]
    product = np.empty(order.size, np.int64)
    product[~cheap] = rng.choice(gc.N_MERCHANDISE, int((~cheap).sum()), p=cat.popularity)
    product[cheap] = cat.cheap[rng.choice(cat.cheap.size, int(cheap.sum()), p=cat.cheap_popularity)]
    qty = rng.choice(np.arange(1, 7), order.size, p=[0.7, 0.18, 0.06, 0.03, 0.02, 0.01])
    qty[cheap] = 1
    is_business = np.where(orders["cust"] >= 0, business[np.maximum(orders["cust"], 0)], False)
    bulk = is_business[order]
    qty[bulk] *= rng.integers(2, 13, int(bulk.sum()))
    years = orders["day"][order] // 365
    price = np.rint(cat.price_cents[product] * 1.03**years).astype(np.int64)
    has_discount = rng.random(order.size) < table.p_discount[la]
    share = rng.uniform(table.discount_lo[la], table.discount_hi[la])
    discount = np.where(has_discount, np.maximum(1, np.rint(qty * price * share)), NONE)
    line_cost = np.where(
        rng.random(order.size) < gc.LINE_COST_SHARE, cat.cost_cents[product], NONE
    ).astype(np.int64)
    net = qty * price - np.maximum(discount, 0)
    subtotal = np.bincount(order, weights=net, minlength=n_orders)

    extras = _extra_lines(rng, orders, is_business, table, cat)
    order = np.concatenate([order, extras["order"]])
    sub = np.concatenate([_rank_within(np.repeat(np.arange(n_orders), n_lines)), extras["sub"]])
    sort = np.lexsort((sub, order))
    lines = {
        "order": order,
        "product": np.concatenate([product, extras["product"]]),
        "qty": np.concatenate([qty, np.ones(extras["order"].size, np.int64)]),
        "price": np.concatenate([price, extras["price"]]),
        "discount": np.concatenate([discount, np.full(extras["order"].size, NONE)]),
        "unit_cost": np.concatenate([line_cost, np.full(extras["order"].size, NONE)]),
    }
    lines = {k: v[sort] for k, v in lines.items()}
    lines["line_number"] = _rank_within(lines["order"]) + 1
    _add_order_fields(rng, lines, orders, subtotal, is_business, table)
    return lines


def _extra_lines(
    rng: np.random.Generator,
    orders: Arrays,
    is_business: np.ndarray,
    table: ProfileTable,
    cat: gc.Catalogue,
) -> Arrays:
    """Non-merchandise lines: postage for business parcels, a payment fee, gift wrapping."""
    n = orders["cust"].size
    plain = ~table.cheap[orders["arch"]]
    postage = np.flatnonzero(is_business & (orders["channel"] != gc.STORE))
    fee = np.flatnonzero(plain & (rng.random(n) < 0.02))
    wrap = np.flatnonzero(plain & (rng.random(n) < 0.03))
    order = np.concatenate([postage, fee, wrap])
    return {
        "order": order,
        "sub": np.concatenate(
            [np.full(postage.size, 10), np.full(fee.size, 11), np.full(wrap.size, 12)]
        ),
        "product": np.concatenate(
            [
                np.full(postage.size, cat.index_of(gc.POSTAGE)),
                np.full(fee.size, cat.index_of(gc.FEE)),
                np.full(wrap.size, cat.index_of(gc.GIFTWRAP)),
            ]
        ),
        "price": np.concatenate(
            [
                rng.integers(1500, 4001, postage.size),
                np.full(fee.size, gc.FEE_CENTS),
                np.full(wrap.size, gc.GIFTWRAP_CENTS),
            ]
        ),
    }


def _add_order_fields(
    rng: np.random.Generator,
    lines: Arrays,
    orders: Arrays,
    subtotal: np.ndarray,
    is_business: np.ndarray,
    table: ProfileTable,
) -> None:
    """Copy order fields onto lines; shipping cost and charge on the first line of each order."""
    order = lines["order"]
    for key in ("cust", "ts", "status", "channel"):
        lines[key] = orders[key][order]
    n = orders["cust"].size
    n_lines = np.bincount(order, minlength=n)
    cheap = table.cheap[orders["arch"]]
    cost = np.where(
        cheap,
        rng.integers(550, 751, n),
        rng.integers(350, 851, n) + 40 * np.maximum(n_lines - 1, 0),
    )
    charged = np.where(is_business | (subtotal >= 4000), 0, 495)
    store = orders["channel"] == gc.STORE
    cost[store], charged[store] = 0, 0
    first = lines["line_number"] == 1
    lines["ship_cost"] = np.where(first, cost[order], NONE)
    lines["ship_charged"] = np.where(first, charged[order], NONE)


def make_returns(
    rng: np.random.Generator,
    lines: Arrays,
    orders: Arrays,
    days: int,
    cat: gc.Catalogue,
    table: ProfileTable,
) -> Arrays:
    """Returns as separate lines of the same order: negative quantity, status ``returned``, on a
    later day, at the net unit price actually paid."""
    a = orders["arch"][lines["order"]]
    eligible = (
        cat.is_merchandise[lines["product"]]
        & (lines["status"] == STATUS_COMPLETED)
        & (lines["cust"] >= 0)
    )
    picked = np.flatnonzero(eligible & (rng.random(a.size) < table.p_return[a]))
    qty = lines["qty"][picked]
    partial = rng.random(picked.size) >= 0.7
    back = np.where(partial, rng.integers(1, qty + 1), qty)
    la = a[picked]
    day = orders["day"][lines["order"][picked]] + rng.integers(
        table.return_lo[la], table.return_hi[la] + 1
    )
    keep = day <= days - 1
    picked, back, day = picked[keep], back[keep], day[keep]
    order = lines["order"][picked]
    last_line = np.zeros(orders["cust"].size, np.int64)
    np.maximum.at(last_line, lines["order"], lines["line_number"])
    paid = lines["qty"][picked] * lines["price"][picked] - np.maximum(lines["discount"][picked], 0)
    return {
        "order": order,
        "product": lines["product"][picked],
        "qty": -back,
        "price": np.rint(paid / lines["qty"][picked]).astype(np.int64),
        "discount": np.full(picked.size, NONE),
        "unit_cost": lines["unit_cost"][picked],
        "line_number": last_line[order] + 1 + _rank_within(order),
        "cust": lines["cust"][picked],
        "ts": day * DAY + _time_of_day(rng, picked.size),
        "status": np.full(picked.size, STATUS_RETURNED),
        "channel": lines["channel"][picked],
        "ship_cost": np.full(picked.size, NONE),
        "ship_charged": np.full(picked.size, NONE),
    }


# ---------------------------------------------------------------------------------------------
# Tickets, surveys, tags


def make_tickets(
    rng: np.random.Generator, orders: Arrays, days: int, table: ProfileTable
) -> Arrays:
    """Support tickets a few days after some orders, shaped by the customer's archetype."""
    a = orders["arch"]
    served = (orders["cust"] >= 0) & (orders["status"] == STATUS_COMPLETED)
    has = served & (rng.random(a.size) < table.p_ticket[a])
    count = np.where(has, rng.integers(table.tickets_lo[a], table.tickets_hi[a] + 1), 0)
    src = np.repeat(np.arange(a.size), count)
    ta = a[src]
    day = orders["day"][src] + rng.integers(table.ticket_lo[ta], table.ticket_hi[ta] + 1)
    keep = day <= days - 1
    src, ta, day = src[keep], ta[keep], day[keep]
    n = src.size
    lognormal = np.rint(rng.lognormal(table.minutes_mu[ta], table.minutes_sigma[ta]))
    uniform = rng.integers(table.minutes_lo[ta], table.minutes_hi[ta] + 1)
    minutes = np.maximum(1, np.where(table.minutes_uniform[ta], uniform, lognormal))
    minutes = np.where(rng.random(n) < table.p_minutes_missing[ta], NONE, minutes)
    return _ticket_rows(
        rng,
        orders["cust"][src],
        day,
        _pick(rng, table.kinds_cdf[ta]),
        _pick(rng, table.severity_cdf[ta]),
        minutes.astype(np.int64),
        days,
    )


def _ticket_rows(
    rng: np.random.Generator,
    cust: np.ndarray,
    day: np.ndarray,
    kind: np.ndarray,
    severity: np.ndarray,
    minutes: np.ndarray,
    days: int,
) -> Arrays:
    """Ticket rows with opening time in office hours and a closing time (empty while open)."""
    opened = day * DAY + rng.integers(8 * 3600, 20 * 3600, cust.size)
    closed = opened + rng.integers(1800, 3 * DAY, cust.size)
    still_open = (closed >= days * DAY) | (rng.random(cust.size) < 0.03)
    return {
        "cust": cust,
        "ts": opened,
        "closed": np.where(still_open, NONE, closed),
        "kind": kind,
        "severity": severity,
        "minutes": minutes,
    }


def _comment(rng: np.random.Generator, nps: np.ndarray, p: float) -> np.ndarray:
    """Index into the flat comment list by NPS band, or NONE."""
    band = np.where(nps >= 9, 2, np.where(nps >= 7, 1, 0))
    sizes = np.array([len(c) for c in gc.COMMENTS])
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    pick = offsets[band] + np.floor(rng.random(nps.size) * sizes[band]).astype(np.int64)
    return np.where(rng.random(nps.size) < p, pick, NONE)


def _csat_from(rng: np.random.Generator, nps: np.ndarray) -> np.ndarray:
    """CSAT 1-5 consistent with an NPS answer, with a little noise."""
    base = np.select([nps >= 9, nps >= 7, nps >= 5, nps >= 3], [5, 4, 3, 2], 1)
    noise = np.where(rng.random(nps.size) < 0.2, rng.integers(-1, 2, nps.size), 0)
    return np.clip(base + noise, 1, 5)


def make_surveys(
    rng: np.random.Generator, orders: Arrays, days: int, table: ProfileTable
) -> Arrays:
    """Survey answers a few days after some purchases: NPS and CSAT, NPS only or CSAT only."""
    a = orders["arch"]
    asked = rng.random(a.size) < table.p_survey[a]
    src = np.flatnonzero(orders["primary"] & (orders["cust"] >= 0) & asked)
    day = orders["day"][src] + rng.integers(1, 11, src.size)
    keep = day <= days - 1
    src, day = src[keep], day[keep]
    nps = _pick(rng, table.nps_cdf[a[src]])
    form = rng.choice(3, src.size, p=[0.6, 0.25, 0.15])  # both, NPS only, CSAT only
    return {
        "cust": orders["cust"][src],
        "ts": day * DAY + rng.integers(7 * 3600, 23 * 3600, src.size),
        "nps": np.where(form == 2, NONE, nps),
        "csat": np.where(form == 1, NONE, _csat_from(rng, nps)),
        "comment": _comment(rng, nps, 0.25),
    }


def planted_voices(rng: np.random.Generator, arch: np.ndarray, days: int) -> tuple[Arrays, Arrays]:
    """The designed latest voice of angry and enthusiast customers (SPEC §5.3), each sometimes
    preceded by an older, milder survey so that only the latest one decides.

    angry: 15-250 days ago an NPS 0-2 answer or a high-severity complaint; enthusiast: 10-250
    days ago an NPS 9-10 answer. Nothing voice-like comes after it."""
    surveys: list[Arrays] = []
    angry = np.flatnonzero(arch == CODE["angry"])
    fan = np.flatnonzero(arch == ENTHUSIAST)
    v_angry = _between(rng, 15, 250, angry.size)
    v_fan = _between(rng, 10, 250, fan.size)
    by_survey = rng.random(angry.size) < 0.5
    surveys.append(_answers(rng, angry[by_survey], v_angry[by_survey], (0, 2), days, csat=1))
    surveys.append(_answers(rng, fan, v_fan, (9, 10), days, csat=5))
    for who, v, scores in ((angry, v_angry, (6, 8)), (fan, v_fan, (7, 10))):
        older = rng.random(who.size) < 0.5
        earlier = v[older] + _between(rng, 30, 100, int(older.sum()))  # <= 350: after 1st order
        surveys.append(_answers(rng, who[older], earlier, scores, days, csat=None))
    complain = angry[~by_survey]
    n = complain.size
    tickets = _ticket_rows(
        rng,
        complain,
        (days - 1) - v_angry[~by_survey],
        np.full(n, 0),  # complaint
        np.full(n, 2),  # high
        rng.integers(20, 91, n),
        days,
    )
    return _concat(surveys), tickets


def _answers(
    rng: np.random.Generator,
    cust: np.ndarray,
    ago: np.ndarray,
    scores: tuple[int, int],
    days: int,
    csat: int | None,
) -> Arrays:
    """Survey answers that always carry an NPS score (so no CSAT mapping is involved)."""
    n = cust.size
    nps = rng.integers(scores[0], scores[1] + 1, n)
    if csat is None:
        csat_col = np.where(rng.random(n) < 0.5, _csat_from(rng, nps), NONE)
    else:
        csat_col = np.where(rng.random(n) < 0.5, csat, NONE)
    return {
        "cust": cust,
        "ts": ((days - 1) - ago) * DAY + rng.integers(7 * 3600, 23 * 3600, n),
        "nps": nps,
        "csat": csat_col,
        "comment": _comment(rng, nps, 0.5),
    }


def _concat(parts: list[Arrays]) -> Arrays:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def make_tags(
    rng: np.random.Generator,
    arch: np.ndarray,
    business: np.ndarray,
    signup_ts: np.ndarray,
    days: int,
    table: ProfileTable,
) -> Arrays:
    """Sales reps tag some customers with 1-3 distinct personality types after sign-up."""
    p = np.minimum(0.9, table.p_tag[arch] * np.where(business, 3.0, 1.0))
    tagged = np.flatnonzero(rng.random(arch.size) < p)
    weights = np.tile(np.log(np.asarray(gc.TAG_WEIGHTS, float)), (tagged.size, 1))
    for code, boost in enumerate(table.tag_boost):
        if boost:
            rows = arch[tagged] == code
            weights[rows, gc.TAGS.index(boost)] += np.log(gc.TAG_BOOST)
    order = np.argsort(-(weights + rng.gumbel(size=weights.shape)), axis=1, kind="stable")
    n_tags = rng.integers(1, 4, tagged.size)
    rows, cols = np.nonzero(np.arange(len(gc.TAGS))[None, :] < n_tags[:, None])
    cust = tagged[rows]
    day = signup_ts[cust] // DAY + rng.integers(0, 181, cust.size)
    ts = day * DAY + rng.integers(9 * 3600, 18 * 3600, cust.size)  # office hours
    ts = np.where(ts > signup_ts[cust], ts, signup_ts[cust] + rng.integers(600, 7200, cust.size))
    keep = ts < days * DAY
    return {
        "cust": cust[keep],
        "ts": ts[keep],
        "tag": order[rows, cols][keep],
        "rep": rng.integers(0, len(gc.REPS), int(keep.sum())),
    }


# ---------------------------------------------------------------------------------------------
# Customers


def customer_attributes(rng: np.random.Generator, arch: np.ndarray) -> Arrays:
    """Static attributes: kind, region, names and contact details (drawn, formatted later)."""
    n = arch.size
    plain = np.isin(arch, [CODE[a] for a in ("discount_hunter", "below_zero", "let_go")])
    business = (rng.random(n) < gc.BUSINESS_SHARE) & ~plain & (arch != EMPLOYEE)
    return {
        "business": business,
        "region": rng.choice(len(gc.REGIONS), n, p=gc.REGION_WEIGHTS),
        "first_name": rng.integers(0, len(gc.FIRST_NAMES), n),
        "last_name": rng.integers(0, len(gc.LAST_NAMES), n),
        "partner_name": rng.integers(0, len(gc.LAST_NAMES), n),
        "suffix": rng.integers(0, len(gc.COMPANY_SUFFIXES), n),
        "domain": rng.integers(0, len(gc.EMAIL_DOMAINS), n),
        "phone": rng.integers(0, 10_000_000, n),
        "is_employee": arch == EMPLOYEE,
    }


def signups(
    rng: np.random.Generator, arch: np.ndarray, first_order_ts: np.ndarray, days: int
) -> np.ndarray:
    """Sign-up time: minutes to weeks before the first order; any time for non-buyers."""
    n = arch.size
    soon = rng.random(n) < 0.55
    offset = np.where(
        soon, rng.integers(120, 2700, n), rng.integers(1, 46, n) * DAY + rng.integers(0, DAY, n)
    )
    buyer = first_order_ts >= 0
    never = _growth_days(rng, n, days) * DAY + rng.integers(7 * 3600, 23 * 3600, n)
    never = np.where(arch == CODE["prospect"], rng.integers(0, days * DAY, n), never)
    return np.where(buyer, np.maximum(0, first_order_ts - offset), never)


def referrals(
    rng: np.random.Generator, arch: np.ndarray, referrer: np.ndarray, signup_ts: np.ndarray
) -> np.ndarray:
    """Some background customers were referred by an earlier-signed-up background customer
    (planted referrals of enthusiasts are already set)."""
    background = np.flatnonzero(arch == BACKGROUND)
    by_signup = background[np.argsort(signup_ts[background], kind="stable")]
    rank = np.arange(by_signup.size)
    chosen = (rng.random(by_signup.size) < BACKGROUND_REFERRED) & (rank > 0)
    pick = np.floor(rng.random(by_signup.size) * rank).astype(np.int64)
    out = referrer.copy()
    out[by_signup[chosen]] = by_signup[pick[chosen]]
    return out


def acquisition(rng: np.random.Generator, referrer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Acquisition channel and cost (cents); referred customers come through ``referral``."""
    n = referrer.size
    weights = np.asarray(gc.ACQUISITION_WEIGHTS, float)
    channel = rng.choice(len(weights), n, p=weights / weights.sum())
    channel[referrer >= 0] = gc.REFERRAL_CHANNEL
    bounds = np.asarray(gc.ACQUISITION_COST_CENTS)
    cost = rng.integers(bounds[channel, 0], bounds[channel, 1] + 1)
    return channel, cost


# ---------------------------------------------------------------------------------------------
# One block


def simulate_block(
    rng: np.random.Generator, n: int, days: int, cat: gc.Catalogue, table: ProfileTable
) -> Block:
    """Every customer and event of one block, as numbers."""
    arch, referrer = assign_archetypes(rng, n, days)
    attrs = customer_attributes(rng, arch)
    occ_cust, occ_day = occasions(rng, arch, days)
    orders = make_orders(rng, occ_cust, occ_day, arch, table)
    lines = make_lines(rng, orders, attrs["business"], cat, table)
    returns = make_returns(rng, lines, orders, days, cat, table)
    all_lines = _concat([{k: lines[k] for k in returns}, returns])
    tickets = make_tickets(rng, orders, days, table)
    surveys = make_surveys(rng, orders, days, table)
    voice_surveys, voice_tickets = planted_voices(rng, arch, days)

    first = np.full(n, np.iinfo(np.int64).max)
    buyers = orders["cust"] >= 0
    np.minimum.at(first, orders["cust"][buyers], orders["ts"][buyers])
    first = np.where(first == np.iinfo(np.int64).max, NONE, first)
    signup_ts = signups(rng, arch, first, days)
    referrer = referrals(rng, arch, referrer, signup_ts)
    channel, cost = acquisition(rng, referrer)
    customers = {
        **attrs,
        "signup_ts": signup_ts,
        "referrer": referrer,
        "acq_channel": channel,
        "acq_cost": cost,
    }
    tags = make_tags(rng, arch, attrs["business"], signup_ts, days, table)
    return Block(
        arch=arch,
        customers=customers,
        lines=all_lines,
        order_ts=orders["ts"],
        tickets=_concat([tickets, voice_tickets]),
        surveys=_concat([surveys, voice_surveys]),
        tags=tags,
    )
