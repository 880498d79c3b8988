"""From occasions to orders, order lines and returns, drawn from each archetype's profile."""

from __future__ import annotations

import numpy as np

from generator import catalogue as gc
from generator.archetypes import (
    BACKGROUND,
    ProfileTable,
)
from generator.codes import (
    DAY,
    GUEST_ORDER_SHARE,
    NONE,
    STATUS_CANCELLED,
    STATUS_COMPLETED,
    STATUS_RETURNED,
    Arrays,
)


def pick(rng: np.random.Generator, cdf: np.ndarray) -> np.ndarray:
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
    n_lines = 1 + pick(rng, table.lines_cdf[a])
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
