"""Planted customer archetypes (SPEC §11): who they are, how they behave, what labels they imply.

Each archetype is a behaviour designed with wide margins from every default threshold of the
segment rules (SPEC §5), so the label it implies is unambiguous; ``labels`` holds exactly those
implied labels and nothing else (an empty truth cell means "no claim"). The behaviour of each
archetype is a :class:`Profile` (how its orders, returns, tickets and surveys look) plus the
occasion schedule in ``generate_simulate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# The truth file's label columns, in order (SPEC §5 schemes a planted behaviour can decide).
LABEL_COLUMNS = (
    "role",
    "lifecycle",
    "satisfaction",
    "value_tier",
    "loyalty_type",
    "loyalty_driver",
    "ten_types",
)

# Share of each named archetype among customers: 300 customers give >= 12 of each, and about a
# quarter stay background (SPEC §11 asks for planted labels that segment tests can recover).
NAMED_SHARE = 0.058
# Each enthusiast brings 1 referred customer, a second one with this probability.
SECOND_REFERRAL = 0.3


@dataclass(frozen=True)
class Archetype:
    name: str
    # Fewest days of history the behaviour needs; shorter data plants background instead.
    min_days: int
    labels: dict[str, str] = field(default_factory=dict)
    named: bool = True  # drawn with NAMED_SHARE (background and referred are not)


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("background", 1, named=False),
    Archetype("loyal", 520, {"lifecycle": "loyal"}),
    Archetype("lapsed", 620, {"lifecycle": "lapsed"}),
    Archetype("reborn", 650, {"lifecycle": "reborn"}),
    Archetype("one_time", 340, {"lifecycle": "one_time"}),
    Archetype("new", 61, {"lifecycle": "new"}),
    Archetype(
        "prospect",
        1,
        {"lifecycle": "prospect", "value_tier": "prospect", "satisfaction": "unknown"},
    ),
    Archetype(
        "discount_hunter",
        470,
        {
            "lifecycle": "loyal",
            "satisfaction": "unknown",
            "loyalty_type": "spurious_loyalty",
            "loyalty_driver": "discount",
        },
    ),
    Archetype(
        "below_zero",
        170,
        {"lifecycle": "repeat", "value_tier": "below_zero", "ten_types": "draining"},
    ),
    Archetype(
        "let_go",
        430,
        {"lifecycle": "loyal", "value_tier": "below_zero", "ten_types": "let_go"},
    ),
    Archetype("angry", 370, {"satisfaction": "angry"}),
    Archetype("enthusiast", 410, {"satisfaction": "enthusiast"}),
    Archetype("employee", 1),
    Archetype("referred", 1, named=False),
)

CODE = {a.name: i for i, a in enumerate(ARCHETYPES)}
BACKGROUND = CODE["background"]
EMPLOYEE = CODE["employee"]
ENTHUSIAST = CODE["enthusiast"]
REFERRED = CODE["referred"]


def truth_labels(archetype: Archetype) -> list[str]:
    """The truth row's label cells: role always, the rest only where implied."""
    role = "internal" if archetype.name == "employee" else "external"
    labels = {"role": role, **archetype.labels}
    return [labels.get(column, "") for column in LABEL_COLUMNS]


# Ticket kinds and severities in the contract's order.
KINDS = ("complaint", "question", "return_request", "other")
SEVERITIES = ("low", "normal", "high")
QUESTIONS_ONLY = (0.0, 0.8, 0.0, 0.2)  # no complaint: the customer's voice stays as designed

# NPS answer weights over 0..10.
NPS_REALISTIC = (2, 1, 1, 2, 2, 4, 6, 12, 18, 22, 30)
NPS_POSITIVE = (0, 0, 0, 0, 0, 0, 0, 20, 30, 25, 25)
NPS_MIXED = (0, 0, 0, 0, 0, 10, 20, 30, 25, 10, 5)


@dataclass(frozen=True)
class Profile:
    """How one archetype's orders, returns, tickets and surveys are drawn (per order/line)."""

    lines: tuple[float, ...] = (0.30, 0.30, 0.20, 0.12, 0.08)  # P(1..5 merchandise lines)
    cheap: bool = False  # only the cheapest products, quantity 1, no extras
    p_discount: float = 0.12  # share of merchandise lines with a discount
    discount: tuple[float, float] = (0.10, 0.30)  # discount as a share of the line
    p_second: float = 0.03  # a second order the same day
    p_cancel: float = 0.0  # the order is cancelled (its day may then have no occasion)
    p_cancel_extra: float = 0.02  # an extra, cancelled order the same day as a purchase
    p_return: float = 0.0  # a merchandise line is (partly) returned later
    return_days: tuple[int, int] = (3, 21)
    p_ticket: float = 0.05  # an order leads to support tickets
    tickets: tuple[int, int] = (1, 1)  # how many when it does
    ticket_days: tuple[int, int] = (0, 10)  # opened this many days after the order
    kinds: tuple[float, ...] = (0.20, 0.45, 0.25, 0.10)
    severity: tuple[float, ...] = (0.30, 0.60, 0.10)
    minutes: tuple[float, float] = (2.3, 0.7)  # lognormal mu, sigma (median ~10 minutes)
    minutes_uniform: tuple[int, int] | None = None  # overrides the lognormal
    p_minutes_missing: float = 0.15
    p_survey: float = 0.10  # a purchase occasion is followed by a survey answer
    nps: tuple[float, ...] = NPS_REALISTIC
    p_tag: float = 0.12  # a sales rep tags the customer
    tag_boost: str = ""  # a tag reps give this archetype more often


_CLEAN = Profile(p_ticket=0.03, kinds=QUESTIONS_ONLY, nps=NPS_MIXED)
_COSTLY = {  # small orders that each cost more to serve than they earn
    "lines": (1.0, 0.0, 0.0, 0.0, 0.0),
    "cheap": True,
    "p_discount": 0.0,
    "p_cancel_extra": 0.0,
    "p_ticket": 1.0,
    "kinds": (0.25, 0.35, 0.35, 0.05),
    "severity": (0.2, 0.6, 0.2),
    "p_minutes_missing": 0.0,
    "p_survey": 0.0,
}

PROFILES: dict[str, Profile] = {
    "background": Profile(p_cancel=0.03, p_return=0.06, p_ticket=0.06),
    "loyal": Profile(p_ticket=0.03, kinds=QUESTIONS_ONLY, p_survey=0.12, nps=NPS_POSITIVE),
    "lapsed": _CLEAN,
    "reborn": _CLEAN,
    "one_time": _CLEAN,
    "new": _CLEAN,
    "prospect": Profile(p_tag=0.08),
    "discount_hunter": Profile(
        lines=(0.55, 0.35, 0.10, 0.0, 0.0),
        p_discount=1.0,  # only ever buys on discount
        discount=(0.25, 0.45),
        p_ticket=0.02,
        kinds=QUESTIONS_ONLY,
        p_survey=0.0,
        p_tag=0.5,
        tag_boost="price_breaker",
    ),
    # The unprofitable tail: each order costs tens of euros more to serve than it earns (one to
    # a few hundred a year), not thousands: 12% of the customers must not eat the business's
    # profit. The draining ones all start within the last 160 days, so their losses land in the
    # last months' KPIs: kept small, so those months do not look like a collapse.
    "below_zero": Profile(
        **_COSTLY,
        p_return=0.85,
        return_days=(3, 12),
        tickets=(1, 1),
        ticket_days=(0, 4),
        minutes_uniform=(10, 25),
    ),
    "let_go": Profile(
        **_COSTLY,
        p_return=0.35,
        return_days=(2, 12),
        tickets=(1, 2),
        ticket_days=(0, 4),
        minutes_uniform=(20, 40),
    ),
    # Angry and enthusiast voices are planted explicitly; generic tickets stay questions.
    "angry": Profile(
        p_return=0.05, p_ticket=0.04, kinds=QUESTIONS_ONLY, p_survey=0.0, tag_boost="aggressive"
    ),
    "enthusiast": Profile(p_ticket=0.03, kinds=QUESTIONS_ONLY, p_survey=0.0, tag_boost="positive"),
    "employee": Profile(p_discount=1.0, discount=(0.25, 0.25), p_return=0.04, p_tag=0.0),
    "referred": _CLEAN,
}


@dataclass(frozen=True)
class ProfileTable:
    """Profiles as arrays indexed by archetype code, for vectorised lookups per order/line."""

    lines_cdf: np.ndarray
    cheap: np.ndarray
    p_discount: np.ndarray
    discount_lo: np.ndarray
    discount_hi: np.ndarray
    p_second: np.ndarray
    p_cancel: np.ndarray
    p_cancel_extra: np.ndarray
    p_return: np.ndarray
    return_lo: np.ndarray
    return_hi: np.ndarray
    p_ticket: np.ndarray
    tickets_lo: np.ndarray
    tickets_hi: np.ndarray
    ticket_lo: np.ndarray
    ticket_hi: np.ndarray
    kinds_cdf: np.ndarray
    severity_cdf: np.ndarray
    minutes_mu: np.ndarray
    minutes_sigma: np.ndarray
    minutes_uniform: np.ndarray  # bool
    minutes_lo: np.ndarray
    minutes_hi: np.ndarray
    p_minutes_missing: np.ndarray
    p_survey: np.ndarray
    nps_cdf: np.ndarray
    p_tag: np.ndarray
    tag_boost: tuple[str, ...]


def _cdf(weights: tuple[float, ...]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return np.cumsum(w / w.sum())


def profile_table() -> ProfileTable:
    """Stack the profiles in archetype-code order."""
    ps = [PROFILES[a.name] for a in ARCHETYPES]

    def arr(get, dtype=float) -> np.ndarray:
        return np.array([get(p) for p in ps], dtype=dtype)

    return ProfileTable(
        lines_cdf=np.stack([_cdf(p.lines) for p in ps]),
        cheap=arr(lambda p: p.cheap, bool),
        p_discount=arr(lambda p: p.p_discount),
        discount_lo=arr(lambda p: p.discount[0]),
        discount_hi=arr(lambda p: p.discount[1]),
        p_second=arr(lambda p: p.p_second),
        p_cancel=arr(lambda p: p.p_cancel),
        p_cancel_extra=arr(lambda p: p.p_cancel_extra),
        p_return=arr(lambda p: p.p_return),
        return_lo=arr(lambda p: p.return_days[0], np.int64),
        return_hi=arr(lambda p: p.return_days[1], np.int64),
        p_ticket=arr(lambda p: p.p_ticket),
        tickets_lo=arr(lambda p: p.tickets[0], np.int64),
        tickets_hi=arr(lambda p: p.tickets[1], np.int64),
        ticket_lo=arr(lambda p: p.ticket_days[0], np.int64),
        ticket_hi=arr(lambda p: p.ticket_days[1], np.int64),
        kinds_cdf=np.stack([_cdf(p.kinds) for p in ps]),
        severity_cdf=np.stack([_cdf(p.severity) for p in ps]),
        minutes_mu=arr(lambda p: p.minutes[0]),
        minutes_sigma=arr(lambda p: p.minutes[1]),
        minutes_uniform=arr(lambda p: p.minutes_uniform is not None, bool),
        minutes_lo=arr(lambda p: (p.minutes_uniform or (0, 0))[0], np.int64),
        minutes_hi=arr(lambda p: (p.minutes_uniform or (0, 0))[1], np.int64),
        p_minutes_missing=arr(lambda p: p.p_minutes_missing),
        p_survey=arr(lambda p: p.p_survey),
        nps_cdf=np.stack([_cdf(p.nps) for p in ps]),
        p_tag=arr(lambda p: p.p_tag),
        tag_boost=tuple(p.tag_boost for p in ps),
    )
