"""The segment schemes and their labels, from the one list: the dbt seed ``segment_labels``.

Python code that names schemes or labels (offer exclusions and policies, the report's charts,
the GE suites' allowed labels, the tests) reads them here instead of writing them again. Read
with the csv module: cheap enough for ``clientele --help``.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from orchestration.settings import DBT_PROJECT_DIR

SEED = DBT_PROJECT_DIR / "seeds" / "segment_labels.csv"
# Label lists of the seed that are not schemes of customer_segments: the action of
# customer_actions, the offer policies, loyalty_driver (which qualifies spurious_loyalty only,
# so it is not a partition of the customers) and contact_role (a label per contact of
# contact_roles, not per customer).
NOT_SCHEMES = ("action", "offer_policy", "loyalty_driver", "contact_role")


def read_labels(seed: Path = SEED) -> dict[str, tuple[str, ...]]:
    """Every scheme of ``seed`` with its labels in display order; empty if there is no seed."""
    if not seed.exists():
        return {}
    ordered: dict[str, list[tuple[int, str]]] = {}
    with seed.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rank = int(row.get("sort_order") or len(ordered.get(row["scheme"], [])))
            ordered.setdefault(row["scheme"], []).append((rank, row["label"]))
    return {scheme: tuple(label for _, label in sorted(rows)) for scheme, rows in ordered.items()}


@cache
def labels() -> dict[str, tuple[str, ...]]:
    """The project's schemes and labels."""
    return read_labels()


def segment_schemes() -> tuple[str, ...]:
    """The schemes of customer_segments (one label per customer each), in the seed's order."""
    return tuple(s for s in labels() if s not in NOT_SCHEMES)


def offer_policies() -> tuple[str, ...]:
    """The limited-offer policies (SPEC §6)."""
    return labels()["offer_policy"]


def contact_roles() -> tuple[str, ...]:
    """The buying-centre roles of a business account's contacts (SPEC §5.11)."""
    return labels()["contact_role"]
