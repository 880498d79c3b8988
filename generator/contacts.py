"""Business accounts' buying centres (SPEC §5.11): the people at each business account, what
each of them does, and the ground truth of their roles.

The wallet places the account's orders (or, as a decision maker, approves them); allies use
the product, raise a question now and then and answer surveys well; a windbag raises ticket
after ticket and comments on every survey but orders nothing and decides nothing; an internal
contact is one of our own people listed on the account; a silent contact does nothing at all.
Some accounts have no contacts, some list only the users (the buyer is not among the contacts),
and in some the windbags outnumber everyone who matters.

Contacts are drawn after everything else of a block, from the same stream, so the rest of the
block is what it would be without them. Their activity never changes what a planted archetype
claims: business accounts are never angry, enthusiast or costly archetypes
(``simulate.customer_attributes``); an account without orders gets contacts without activity (a
business prospect keeps no support cost and no voice); allies' and windbags' tickets are
questions, never complaints. Each planted behaviour keeps wide margins from the default
thresholds of the role rules (``dbt_project.yml``, block 5.11), so its label is unambiguous;
the account's buying-centre action is claimed only where every contact's activity is clearly
inside or outside the active window.
"""

from __future__ import annotations

import numpy as np

from generator import catalogue as gc
from generator.codes import DAY, NONE, STATUS_CANCELLED, Arrays
from generator.voice import _csat_from, _ticket_rows

# Planted roles, in the order of the truth file's codes, and the account-level actions.
ROLES = ("wallet", "ally", "internal", "windbag", "unknown")
WALLET, ALLY, INTERNAL, WINDBAG, UNKNOWN = range(len(ROLES))
# What each planted contact is (a role can be planted two ways: buyer and approver wallets).
KINDS = ("buyer", "approver", "ally", "windbag", "internal", "silent")
BUYER, APPROVER, ALLY_KIND, WINDBAG_KIND, INTERNAL_KIND, SILENT = range(len(KINDS))
KIND_ROLE = (WALLET, WALLET, ALLY, WINDBAG, INTERNAL, UNKNOWN)

# The defaults the plans keep their margins from (dbt vars of block 5.11).
ACTIVE_DAYS = 180  # buying_centre_active_days
# A contact counts as clearly active with its last activity this recent, clearly silent this
# long ago or never; in between the truth claims no account action.
CLEARLY_ACTIVE, CLEARLY_SILENT = 120, 240

# Account plans: no contacts at all; users only (the buyer is not a contact); windbags
# outnumbering the rest; the ordinary buying centre.
P_NO_CONTACTS = 0.08
P_USERS_ONLY = 0.15
P_WINDBAG_HEAVY = 0.10
MIN_HISTORY_DAYS = 30  # accounts younger than this have no users yet (no allies or windbags)

TITLES = {
    BUYER: ("Purchasing Manager", "Head of Procurement", "Buyer", "Office Manager"),
    APPROVER: ("Managing Director", "Finance Director", "Owner", "Head of Operations"),
    ALLY_KIND: ("Operations Manager", "Engineer", "Team Lead", "Office Manager", "Technician"),
    WINDBAG_KIND: ("Consultant", "Assistant", "Coordinator", "Analyst", "Intern"),
    INTERNAL_KIND: ("Account Manager", "Key Account Manager", "Sales Engineer"),
    SILENT: ("Assistant", "Engineer", "Controller", "Team Lead"),
}
DEPARTMENTS = {
    BUYER: ("Procurement", "Procurement", "Administration"),
    APPROVER: ("Management", "Finance"),
    ALLY_KIND: ("Operations", "IT", "Production", "Administration"),
    WINDBAG_KIND: ("Marketing", "Administration", "Operations", "Quality"),
    INTERNAL_KIND: ("Sales",),
    SILENT: ("Finance", "IT", "Operations", "Administration"),
}
# Every title and department as one list each (formatting looks them up by index).
ALL_TITLES = tuple(dict.fromkeys(t for k in range(len(KINDS)) for t in TITLES[k]))
ALL_DEPARTMENTS = tuple(dict.fromkeys(d for k in range(len(KINDS)) for d in DEPARTMENTS[k]))

# Buying-centre actions (the account-level scheme) as the truth file names them.
NOT_APPLICABLE, UNKNOWN_ACTION = "not_applicable", "unknown"
REACH_WALLET, FIND_WALLET, LIMIT_WINDBAGS, NO_ACTION = (
    "reach_wallet",
    "find_wallet",
    "limit_windbags",
    "none",
)


def _plan(rng: np.random.Generator, live_orders: int, young: bool) -> list[int]:
    """The kinds of contact one business account lists (possibly none). A second buyer only
    where there are two orders to place, so that every buyer places one."""
    if rng.random() < P_NO_CONTACTS:
        return []
    extra = [INTERNAL_KIND] * (rng.random() < 0.3) + [SILENT] * (rng.random() < 0.2)
    if not live_orders:  # no buying yet: nobody uses anything, so nobody has activity
        return [APPROVER] * (rng.random() < 0.6) + extra
    if young:
        return [BUYER] + [APPROVER] * (rng.random() < 0.4) + extra
    draw = rng.random()
    if draw < P_USERS_ONLY:
        allies = int(rng.integers(1, 3))
        return [ALLY_KIND] * allies + [WINDBAG_KIND] * (rng.random() < 0.35) + extra
    if draw < P_USERS_ONLY + P_WINDBAG_HEAVY:
        return [BUYER, WINDBAG_KIND, WINDBAG_KIND] + extra
    buyers = 1 + (rng.random() < 0.15 and live_orders >= 2)
    allies = int(rng.choice(4, p=(0.2, 0.35, 0.3, 0.15)))
    windbags = int(rng.random() < 0.35)
    return (
        [BUYER] * buyers
        + [APPROVER] * (rng.random() < 0.4)
        + [ALLY_KIND] * allies
        + [WINDBAG_KIND] * windbags
        + extra
    )


def _days(rng: np.random.Generator, low: int, high: int, n: int) -> np.ndarray:
    """``n`` days in [low, high]; none when the window is empty (an account that signed up on
    the last day has no day left for its contacts to act)."""
    return rng.integers(low, high + 1, n) if n and low <= high else np.empty(0, np.int64)


def _groups(keys: np.ndarray, wanted: np.ndarray) -> dict[int, np.ndarray]:
    """The row indices of ``keys`` equal to each value of ``wanted``."""
    order = np.argsort(keys, kind="stable")
    lo = np.searchsorted(keys[order], wanted, "left")
    hi = np.searchsorted(keys[order], wanted, "right")
    return {int(w): order[a:b] for w, a, b in zip(wanted, lo, hi, strict=True)}


def make_contacts(
    rng: np.random.Generator,
    business: np.ndarray,
    orders: Arrays,
    tickets: Arrays,
    surveys: Arrays,
    signup_ts: np.ndarray,
    days: int,
) -> tuple[Arrays, Arrays, Arrays, np.ndarray, np.ndarray]:
    """The block's contacts and what they do.

    Returns (contacts, their tickets, their survey answers, the contact of each order, the
    buying-centre action each customer's truth claims or ""). ``tickets`` and ``surveys`` (the
    order-related ones) get their ``contact`` column set in place: the buyers who placed the
    account's orders also raised its order tickets and answered its purchase surveys."""
    last = days - 1
    live = orders["status"] != STATUS_CANCELLED
    accounts = np.flatnonzero(business)
    account_orders = _groups(orders["cust"], accounts)
    account_tickets = _groups(tickets["cust"], accounts)
    account_answers = _groups(surveys["cust"], accounts)
    order_contact = np.full(orders["cust"].size, NONE, np.int64)
    claims = np.where(business, "", NOT_APPLICABLE).astype(object)
    rows: dict[str, list] = {k: [] for k in ("cust", "kind", "ts", "decision")}
    new_tickets: list[Arrays] = []
    new_answers: list[Arrays] = []
    seen: list[int] = []  # per contact: the day of its last activity, NONE for none
    for account in accounts.tolist():
        mine = account_orders[account]
        placed = mine[live[mine]]
        signup_day = int(signup_ts[account] // DAY)
        kinds = _plan(rng, placed.size, last - signup_day < MIN_HISTORY_DAYS)
        first = len(rows["cust"])
        created = min(int(signup_ts[account]) + int(rng.integers(30, 111)), days * DAY - 1)
        for k in kinds:
            rows["cust"].append(account)
            rows["kind"].append(k)
            rows["ts"].append(created)
            rows["decision"].append(k == APPROVER or (k == BUYER and rng.random() < 0.3))
            seen.append(NONE)
        ids = np.arange(first, first + len(kinds), dtype=np.int64)
        buyers = ids[np.asarray(kinds, np.int64) == BUYER] if kinds else ids
        if buyers.size:
            chosen = buyers[rng.integers(0, buyers.size, mine.size)]
            chosen[np.isin(mine, placed[: buyers.size])] = buyers[: min(buyers.size, placed.size)]
            order_contact[mine] = chosen
            for contact in buyers.tolist():
                own = mine[(chosen == contact) & live[mine]]
                seen[contact] = int(orders["day"][own].max())
            _attribute(rng, tickets, account_tickets[account], buyers, seen)
            _attribute(rng, surveys, account_answers[account], buyers, seen)
        low = max(signup_day + 1, last - 330)
        for contact, k in zip(ids.tolist(), kinds, strict=True):
            if k == ALLY_KIND:
                events = _ally(rng, account, contact, signup_day, days)
            elif k == WINDBAG_KIND:
                events = _windbag(rng, account, contact, low, days)
            elif k == INTERNAL_KIND and placed.size:
                n = int(rng.integers(0, 3))
                events = (_questions(rng, account, contact, _days(rng, low, last, n), days),)
            else:
                continue
            for table, out in zip(events, (new_tickets, new_answers), strict=False):
                out.append(table)
                if table["ts"].size:
                    seen[contact] = max(seen[contact], int(table["ts"].max() // DAY))
        decision = rows["decision"][first:]
        claims[account] = _claim(kinds, decision, seen[first:], orders["day"][placed], last)
    contacts = {
        "cust": np.asarray(rows["cust"], np.int64),
        "kind": np.asarray(rows["kind"], np.int64),
        "ts": np.asarray(rows["ts"], np.int64),
        "decision": np.asarray(rows["decision"], bool),
    }
    contacts.update(_people(rng, contacts["kind"]))
    return (
        contacts,
        _concat(new_tickets, tickets),
        _concat(new_answers, surveys),
        order_contact,
        claims,
    )


def _attribute(
    rng: np.random.Generator,
    events: Arrays,
    rows: np.ndarray,
    buyers: np.ndarray,
    seen: list[int],
) -> None:
    """The account's order-related tickets or answers (``rows``) are its buyers' (one at
    random: every buyer placed an order, so each stays a wallet whatever it is given)."""
    if not rows.size:
        return
    chosen = buyers[rng.integers(0, buyers.size, rows.size)]
    events["contact"][rows] = chosen
    for contact, day in zip(chosen.tolist(), (events["ts"][rows] // DAY).tolist(), strict=True):
        seen[contact] = max(seen[contact], int(day))


def _questions(
    rng: np.random.Generator, account: int, contact: int, days_: np.ndarray, days: int
) -> Arrays:
    """Question (or other) tickets of one contact on the given days, 10-minute median."""
    n = days_.size
    minutes = np.maximum(1, np.rint(rng.lognormal(2.3, 0.6, n))).astype(np.int64)
    rows = _ticket_rows(
        rng,
        np.full(n, account, np.int64),
        days_,
        np.where(rng.random(n) < 0.75, 1, 3),  # question, else other
        rng.integers(0, 2, n),  # low or normal
        minutes,
        days,
    )
    rows["contact"] = np.full(n, contact, np.int64)
    return rows


def _answers(
    rng: np.random.Generator,
    account: int,
    contact: int,
    days_: np.ndarray,
    scores: tuple[int, int],
    p_comment: float,
) -> Arrays:
    n = days_.size
    nps = rng.integers(scores[0], scores[1] + 1, n)
    band = np.where(nps >= 9, 2, np.where(nps >= 7, 1, 0))
    sizes = np.array([len(c) for c in gc.COMMENTS])
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    comment = offsets[band] + np.floor(rng.random(n) * sizes[band]).astype(np.int64)
    return {
        "cust": np.full(n, account, np.int64),
        "ts": days_ * DAY + rng.integers(7 * 3600, 23 * 3600, n),
        "nps": nps,
        "csat": np.where(rng.random(n) < 0.5, _csat_from(rng, nps), NONE),
        "comment": np.where(rng.random(n) < p_comment, comment, NONE),
        "contact": np.full(n, contact, np.int64),
    }


def _ally(
    rng: np.random.Generator, account: int, contact: int, signup_day: int, days: int
) -> tuple[Arrays, Arrays]:
    """0-2 questions in the last 120 days and 1-2 answers scoring 8-10 in the last 300 days,
    the latest event within 120 days: at most 4 contacts a year, a positive voice, active."""
    last = days - 1
    recent = max(signup_day + 1, last - (CLEARLY_ACTIVE - 1))
    year = max(signup_day + 1, last - 300)
    n_tickets = int(rng.choice(3, p=(0.3, 0.5, 0.2)))
    answer_days = _days(rng, year, last, int(rng.integers(1, 3)))
    if n_tickets == 0 and answer_days.size:  # the latest event is an answer: a recent one
        answer_days[0] = rng.integers(recent, last + 1)
    tickets = _questions(rng, account, contact, _days(rng, recent, last, n_tickets), days)
    return tickets, _answers(rng, account, contact, answer_days, (8, 10), 0.3)


def _windbag(
    rng: np.random.Generator, account: int, contact: int, low: int, days: int
) -> tuple[Arrays, Arrays]:
    """10-16 questions and 2-4 commented answers scoring 7-8 within 330 days: at least 12
    contacts a year, no order, no decision role."""
    last = days - 1
    ticket_days = _days(rng, low, last, int(rng.integers(10, 17)))
    answer_days = _days(rng, low, last, int(rng.integers(2, 5)))
    return (
        _questions(rng, account, contact, ticket_days, days),
        _answers(rng, account, contact, answer_days, (7, 8), 1.0),
    )


def _claim(
    kinds: list[int], decision: list[bool], seen: list[int], placed_days: np.ndarray, last: int
) -> str:
    """The buying-centre action the plan implies, or "" where it hangs on a contact whose
    activity is neither clearly recent nor clearly old. A decision maker's activity includes
    the account's orders (it approves them)."""
    if not kinds:
        return UNKNOWN_ACTION
    roles = [KIND_ROLE[k] for k in kinds]
    wallets = [i for i, r in enumerate(roles) if r == WALLET]
    allies = [i for i, r in enumerate(roles) if r == ALLY]
    windbags = roles.count(WINDBAG)
    if not wallets and not allies and not windbags:
        return UNKNOWN_ACTION
    account_last = int(placed_days.max()) if placed_days.size else NONE

    def state(day: int) -> str:
        if day == NONE or last - day >= CLEARLY_SILENT:
            return "silent"
        return "active" if last - day < CLEARLY_ACTIVE else "unclear"

    wallet_states = {state(max(seen[i], account_last if decision[i] else NONE)) for i in wallets}
    ally_states = {state(seen[i]) for i in allies}
    if wallets and allies and "active" not in wallet_states:
        if "unclear" in wallet_states:
            return ""
        if "active" in ally_states:
            return REACH_WALLET
        if "unclear" in ally_states:
            return ""
    if not wallets:
        return FIND_WALLET
    if windbags > len(wallets) + len(allies):
        return LIMIT_WINDBAGS
    return NO_ACTION


def _people(rng: np.random.Generator, kind: np.ndarray) -> Arrays:
    """Titles, departments and contact details (formatted later)."""
    n = kind.size
    title = np.empty(n, np.int64)
    department = np.empty(n, np.int64)
    for k in range(len(KINDS)):
        rows = np.flatnonzero(kind == k)
        own = [ALL_TITLES.index(t) for t in TITLES[k]]
        title[rows] = np.asarray(own)[rng.integers(0, len(own), rows.size)]
        own = [ALL_DEPARTMENTS.index(d) for d in DEPARTMENTS[k]]
        department[rows] = np.asarray(own)[rng.integers(0, len(own), rows.size)]
    return {
        "title": title,
        "department": department,
        "employee": kind == INTERNAL_KIND,
        "first_name": rng.integers(0, len(gc.FIRST_NAMES), n),
        "last_name": rng.integers(0, len(gc.LAST_NAMES), n),
        "domain": rng.integers(0, len(gc.EMAIL_DOMAINS), n),
        "phone": rng.integers(0, 10_000_000, n),
    }


def _concat(parts: list[Arrays], like: Arrays) -> Arrays:
    """The contacts' own events as one table with the columns of ``like`` (maybe empty)."""
    if not parts:
        return {k: v[:0] for k, v in like.items()}
    return {k: np.concatenate([p[k] for p in parts]) for k in like}
