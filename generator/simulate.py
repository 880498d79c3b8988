"""Simulate one block of customers as numeric event tables (no text yet).

Time is in seconds from the start of the first day of the data (day 0, 00:00:00); ``ago`` is
days before the last day ``D``. Everything is vectorised over the block: a block of 10k
customers is a few hundred numpy calls, whatever its number of order lines.

Purchase *occasions* (customer, day) come from a schedule per archetype (regular gaps for the
planted ones, a BG/NBD-like buy-till-you-die process for background customers); each occasion
becomes orders, order lines, returns, tickets and survey answers drawn from the archetype's
:class:`~generator.archetypes.Profile`. Business accounts get their contacts last
(:mod:`generator.contacts`): who placed each order, who raised each ticket, what the users and
windbags said.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generator import catalogue as gc
from generator.archetypes import (
    BACKGROUND,
    CODE,
    EMPLOYEE,
    ProfileTable,
)
from generator.codes import BACKGROUND_REFERRED, DAY, NONE, Arrays
from generator.contacts import make_contacts
from generator.occasions import assign_archetypes, growth_days, occasions
from generator.orders import make_lines, make_orders, make_returns
from generator.voice import concat, make_surveys, make_tags, make_tickets, planted_voices


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
    contacts: Arrays  # the people at business accounts (generator.contacts)
    order_contact: np.ndarray  # per local order: the contact who placed it, or NONE
    claims: np.ndarray  # per local customer: the buying-centre action the truth claims, or ""


def customer_attributes(rng: np.random.Generator, arch: np.ndarray) -> Arrays:
    """Static attributes: kind, region, names and contact details (drawn, formatted later)."""
    n = arch.size
    # Archetypes whose planted labels a business account's contacts could blur stay individual:
    # the costly ones (bulk orders would make them profitable) and the planted voices (the
    # users' survey answers would come after them).
    plain = np.isin(
        arch,
        [CODE[a] for a in ("discount_hunter", "below_zero", "let_go", "angry", "enthusiast")],
    )
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
    never = growth_days(rng, n, days) * DAY + rng.integers(7 * 3600, 23 * 3600, n)
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
    all_lines = concat([{k: lines[k] for k in returns}, returns])
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
    tickets = concat([tickets, voice_tickets])
    surveys = concat([surveys, voice_surveys])
    contacts, their_tickets, their_answers, order_contact, claims = make_contacts(
        rng, attrs["business"], orders, tickets, surveys, signup_ts, days
    )
    return Block(
        arch=arch,
        customers=customers,
        lines=all_lines,
        order_ts=orders["ts"],
        tickets=concat([tickets, their_tickets]),
        surveys=concat([surveys, their_answers]),
        tags=tags,
        contacts=contacts,
        order_contact=order_contact,
        claims=claims,
    )
