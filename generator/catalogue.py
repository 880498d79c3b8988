"""The fixed vocabulary of the synthetic shop: product catalogue, names, channels, tags, comments.

The catalogue is drawn from its own random stream, so it is the same for every block of
customers and every size of data set with the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa

from orchestration.ingest.contract import SOURCES

N_MERCHANDISE = 300
SHARE_WITHOUT_COST = 0.10  # catalogue rows without unit_cost: the assumed margin rate applies
CHEAP_PRODUCTS = 40  # the cheapest products, bought by the costly-to-serve archetypes
LINE_COST_SHARE = 0.25  # order lines that carry their own unit_cost

# (category, median list price) — prices are lognormal around the median.
CATEGORIES = (
    ("apparel", 24.0),
    ("home", 19.0),
    ("kitchen", 15.0),
    ("garden", 17.0),
    ("toys", 13.0),
    ("books", 9.0),
    ("beauty", 11.0),
    ("electronics", 45.0),
    ("sports", 26.0),
    ("stationery", 5.0),
)
# Non-merchandise codes (SPEC §1: postage, fees, adjustments are not merchandise).
POSTAGE, FEE, GIFTWRAP = "POSTAGE", "FEE", "GIFTWRAP"
NON_MERCHANDISE = ((POSTAGE, "postage"), (FEE, "fees"), (GIFTWRAP, "services"))
FEE_CENTS = 250
GIFTWRAP_CENTS = 350

CURRENCY = "EUR"
ORDER_CHANNELS = ("web", "app", "store", "phone")
ORDER_CHANNEL_WEIGHTS = (0.55, 0.25, 0.15, 0.05)
STORE = ORDER_CHANNELS.index("store")
ACQUISITION_CHANNELS = ("search", "social", "email", "store", "referral")
ACQUISITION_WEIGHTS = (0.36, 0.28, 0.13, 0.23, 0.0)  # referral only with referred_by
REFERRAL_CHANNEL = ACQUISITION_CHANNELS.index("referral")
ACQUISITION_COST_CENTS = ((1500, 4500), (800, 3000), (100, 600), (0, 500), (1000, 1000))
REGIONS = ("north", "south", "east", "west", "central")
REGION_WEIGHTS = (0.22, 0.24, 0.18, 0.2, 0.16)
BUSINESS_SHARE = 0.10

# Orders by hour of day (local shop time).
HOUR_WEIGHTS = (1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 4, 5, 5, 6, 5, 5, 5, 5, 5, 6, 7, 7, 6, 4, 2)

# SPEC §5.10 sales-psychology types, as reps tag them, with how often reps use each.
TAGS = (
    "intelligent",
    "conscientious",
    "political",
    "educated",
    "skeptical",
    "positive",
    "price_breaker",
    "self_satisfied",
    "nervous",
    "ignorant",
    "confused",
    "aggressive",
)
TAG_WEIGHTS = (8, 10, 4, 6, 9, 12, 7, 5, 6, 3, 5, 4)
TAG_BOOST = 12.0  # weight multiplier for an archetype's typical tag
REPS = ("a.moreau", "b.kowalski", "c.nguyen", "d.okafor", "e.lindqvist", "f.rossi", "g.haddad")

FIRST_NAMES = (
    "Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack", "Kira",
    "Liam", "Maya", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera",
    "Will", "Xenia", "Yusuf", "Zoe", "Amir", "Bea", "Carlos", "Dana", "Elif", "Farah", "Goran",
    "Hana", "Ivan", "Jonas", "Lea", "Marta", "Nils", "Priya",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Garcia", "Müller", "Rossi", "Dubois", "Novak", "Kim", "Patel", "Silva",
    "O'Brien", "Nowak", "Jensen", "Ivanova", "Haddad", "Tanaka", "Costa", "Berg", "Fischer",
    "Lopez", "Martin", "Weber", "Bianchi", "Kowalski", "Yilmaz", "Hansen", "Moreau", "Sato",
    "Clark", "Lewis", "Walker", "Young", "Evans", "Wright", "Hall", "Adams", "Baker", "Nelson",
    "Hill", "Reed",
)  # fmt: skip
COMPANY_SUFFIXES = ("Ltd", "LLC", "GmbH", "& Sons", "Trading Co", "and Partners")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

# Survey comments by NPS band (detractor, passive, promoter); some need CSV quoting on purpose.
COMMENTS = (
    (
        "Item arrived damaged",
        "Refund still missing",
        'Never again, "customer service" ignored me',
        "Terrible; nobody answers the phone",
        "Late delivery",
    ),
    ("OK", "Delivery took a while", "Average quality", "Fine, nothing special"),
    (
        "Great service",
        "Fast delivery; well packed",
        "Love it, will buy again",
        "Exactly as described",
        "Friendly staff",
    ),
)


@dataclass(frozen=True)
class Catalogue:
    """Products by index: 0..N_MERCHANDISE-1 are merchandise, then the non-merchandise codes."""

    product_id: tuple[str, ...]
    category: tuple[str, ...]
    price_cents: np.ndarray  # list price at the start of the data
    cost_cents: np.ndarray  # the true unit cost (0 for non-merchandise)
    cost_listed: np.ndarray  # bool: the catalogue shows unit_cost
    is_merchandise: np.ndarray  # bool
    popularity: np.ndarray  # probabilities over merchandise products
    cheap: np.ndarray  # indices of the cheapest merchandise products
    cheap_popularity: np.ndarray

    def index_of(self, product_id: str) -> int:
        return self.product_id.index(product_id)


def build_catalogue(rng: np.random.Generator) -> Catalogue:
    """About 300 merchandise products with category, price and cost, plus non-merchandise codes."""
    n = N_MERCHANDISE
    cat = rng.integers(0, len(CATEGORIES), n)
    medians = np.array([m for _, m in CATEGORIES])[cat]
    price = np.maximum(0.99, np.floor(medians * rng.lognormal(0.0, 0.55, n)) + 0.99)
    price_cents = np.rint(price * 100).astype(np.int64)
    margin = rng.uniform(0.30, 0.60, n)
    cost_cents = np.rint(price_cents * (1 - margin)).astype(np.int64)
    cost_listed = rng.random(n) >= SHARE_WITHOUT_COST
    weights = 1.0 / np.arange(1, n + 1) ** 0.8
    popularity = weights[rng.permutation(n)]
    popularity /= popularity.sum()
    cheap = np.argsort(price_cents, kind="stable")[:CHEAP_PRODUCTS]
    cheap_popularity = popularity[cheap] / popularity[cheap].sum()
    extra = len(NON_MERCHANDISE)
    return Catalogue(
        product_id=tuple(f"P{i + 1:05d}" for i in range(n)) + tuple(c for c, _ in NON_MERCHANDISE),
        category=tuple(CATEGORIES[c][0] for c in cat) + tuple(k for _, k in NON_MERCHANDISE),
        price_cents=np.concatenate([price_cents, np.zeros(extra, np.int64)]),
        cost_cents=np.concatenate([cost_cents, np.zeros(extra, np.int64)]),
        cost_listed=np.concatenate([cost_listed, np.zeros(extra, bool)]),
        is_merchandise=np.concatenate([np.ones(n, bool), np.zeros(extra, bool)]),
        popularity=popularity,
        cheap=cheap,
        cheap_popularity=cheap_popularity,
    )


def products_table(catalogue: Catalogue) -> pa.Table:
    """The products drop: contract columns, unit_cost as exact decimals (empty where unlisted)."""
    costs = [
        Decimal(int(c)).scaleb(-2) if listed else None
        for c, listed in zip(catalogue.cost_cents, catalogue.cost_listed, strict=True)
    ]
    columns = {
        "product_id": pa.array(catalogue.product_id, pa.string()),
        "category": pa.array(catalogue.category, pa.string()),
        "unit_cost": pa.array(costs, pa.decimal128(12, 2)),
        "is_merchandise": pa.array(catalogue.is_merchandise.tolist(), pa.bool_()),
    }
    return pa.table({name: columns[name] for name in SOURCES["products"].column_names})
