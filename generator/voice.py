"""The voice of the customer: support tickets, survey answers and reps' tags, with the planted
angry and enthusiast voices."""

from __future__ import annotations

import numpy as np

from generator import catalogue as gc
from generator.archetypes import (
    CODE,
    ENTHUSIAST,
    ProfileTable,
)
from generator.codes import DAY, NONE, STATUS_COMPLETED, Arrays
from generator.occasions import between
from generator.orders import pick


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
        pick(rng, table.kinds_cdf[ta]),
        pick(rng, table.severity_cdf[ta]),
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
        "contact": np.full(cust.size, NONE, np.int64),  # who at a business account (contacts)
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
    nps = pick(rng, table.nps_cdf[a[src]])
    form = rng.choice(3, src.size, p=[0.6, 0.25, 0.15])  # both, NPS only, CSAT only
    return {
        "cust": orders["cust"][src],
        "ts": day * DAY + rng.integers(7 * 3600, 23 * 3600, src.size),
        "nps": np.where(form == 2, NONE, nps),
        "csat": np.where(form == 1, NONE, _csat_from(rng, nps)),
        "comment": _comment(rng, nps, 0.25),
        "contact": np.full(src.size, NONE, np.int64),
    }


def planted_voices(rng: np.random.Generator, arch: np.ndarray, days: int) -> tuple[Arrays, Arrays]:
    """The designed latest voice of angry and enthusiast customers (SPEC §5.3), each sometimes
    preceded by an older, milder survey so that only the latest one decides.

    angry: 15-250 days ago an NPS 0-2 answer or a high-severity complaint; enthusiast: 10-250
    days ago an NPS 9-10 answer. Nothing voice-like comes after it."""
    surveys: list[Arrays] = []
    angry = np.flatnonzero(arch == CODE["angry"])
    fan = np.flatnonzero(arch == ENTHUSIAST)
    v_angry = between(rng, 15, 250, angry.size)
    v_fan = between(rng, 10, 250, fan.size)
    by_survey = rng.random(angry.size) < 0.5
    surveys.append(_answers(rng, angry[by_survey], v_angry[by_survey], (0, 2), days, csat=1))
    surveys.append(_answers(rng, fan, v_fan, (9, 10), days, csat=5))
    for who, v, scores in ((angry, v_angry, (6, 8)), (fan, v_fan, (7, 10))):
        older = rng.random(who.size) < 0.5
        earlier = v[older] + between(rng, 30, 100, int(older.sum()))  # <= 350: after 1st order
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
    return concat(surveys), tickets


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
        "contact": np.full(n, NONE, np.int64),
    }


def concat(parts: list[Arrays]) -> Arrays:
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
