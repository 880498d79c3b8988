"""Dirt for ``generate --dirt``: extra raw lines that ingestion must quarantine (SPEC §1).

Each dirty line has exactly one defect, named by the reason code ingestion records. Dirty lines
are derived from clean lines of background customers or guests only, and every derived line
gets a fresh key (except the exact duplicates, which are the point), so the planted
archetypes' facts are the same with or without dirt and no dirty line collides with another.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Callable

import numpy as np

from orchestration.ingest.contract import SOURCES

DIRT_RATE = 0.015  # dirty lines per clean line, overall
MAX_BASE_RATE = 0.5  # at most this many dirty lines per eligible clean line

# Reason codes per source with their relative weights.
_COMMON = (
    ("malformed_line", 2),
    ("duplicate_line", 3),
    ("unparseable_date", 2),
    ("future_date", 1),
    ("missing_key", 2),
)
REASONS: dict[str, tuple[tuple[str, int], ...]] = {
    "orders": (*_COMMON, ("non_numeric_quantity", 2), ("unknown_product", 2)),
    "customers": _COMMON,
    "contacts": _COMMON,
    "tickets": _COMMON,
    "surveys": _COMMON,
    "customer_tags": _COMMON,
}
# The identifier emptied for missing_key (one of them, at random, for orders).
MISSING_KEY = {
    "orders": ("order_id", "product_id"),
    "customers": ("customer_id",),
    "contacts": ("contact_id", "customer_id"),
    "tickets": ("ticket_id",),
    "surveys": ("response_id",),
    "customer_tags": ("customer_id",),
}
BAD_DATES = (
    "{y}-13-45 10:00:00",
    "{y}-02-30 12:00:00",
    "31/02/{y}",
    "{y}-00-10 08:15:00",
    "yesterday",
    "not a date",
)
BAD_QUANTITIES = ("three", "two", "several", "x2")


def base_rate(rows: int, eligible: int) -> float:
    """The per-eligible-line rate that makes dirt about DIRT_RATE of all of a source's lines
    (only background and guest lines are eligible)."""
    return min(MAX_BASE_RATE, DIRT_RATE * rows / eligible) if eligible else 0.0


def _fresh_key(source: str, row: dict[str, object], k: int) -> None:
    """Give a derived row a key no clean row has (so it is not a duplicate key)."""
    if source == "orders":
        row["line_number"] = str(90 + k)
    elif source in ("customers", "contacts", "tickets", "surveys"):
        key = SOURCES[source].key[0]
        row[key] = f"{row[key]}X{k}"
    # customer_tags: the changed tagged_at or customer_id already makes the key new


def _defect(
    rng: np.random.Generator,
    source: str,
    row: dict[str, object],
    reason: str,
    file_day: dt.date,
    end: dt.date,
) -> None:
    """Apply exactly one defect (other than malformed/duplicate) to a parsed row."""
    event = SOURCES[source].event_time
    if reason == "unparseable_date":
        row[event] = BAD_DATES[rng.integers(len(BAD_DATES))].format(y=file_day.year)
    elif reason == "future_date":
        when = end + dt.timedelta(days=int(rng.integers(1, 401)))
        row[event] = f"{when.isoformat()} {str(row[event])[11:19] or '12:00:00'}"
    elif reason == "non_numeric_quantity":
        row["quantity"] = BAD_QUANTITIES[rng.integers(len(BAD_QUANTITIES))]
    elif reason == "unknown_product":
        row["product_id"] = f"X{rng.integers(10_000, 100_000)}"
    elif reason == "missing_key":
        keys = MISSING_KEY[source]
        row[keys[rng.integers(len(keys))]] = ""
    else:
        raise ValueError(reason)


def _dirty_line(
    rng: np.random.Generator,
    source: str,
    line: str,
    reason: str,
    k: int,
    delimiter: str,
    file_day: dt.date,
    end: dt.date,
) -> str:
    """One dirty line derived from a clean line."""
    if reason == "duplicate_line":
        return line
    names = SOURCES[source].column_names
    if delimiter == "json":
        row = json.loads(line)
    else:
        row = dict(
            zip(names, next(csv.reader([line.rstrip("\n")], delimiter=delimiter)), strict=True)
        )
    _fresh_key(source, row, k)
    if reason == "malformed_line":
        return _malformed(rng, row, names, delimiter)
    _defect(rng, source, row, reason, file_day, end)
    return _serialise(row, names, delimiter)


def _serialise(row: dict[str, object], names: list[str], delimiter: str) -> str:
    if delimiter == "json":
        return json.dumps({n: row[n] for n in names}, ensure_ascii=False) + "\n"
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerow([row[n] for n in names])
    return out.getvalue()


def _malformed(
    rng: np.random.Generator, row: dict[str, object], names: list[str], delimiter: str
) -> str:
    """A line the parser cannot split into the file's columns."""
    text = _serialise(row, names, delimiter).rstrip("\n")
    if delimiter == "json":
        return text[: len(text) // 2] + "\n"  # cut mid-object: not valid JSON
    if rng.random() < 0.5:
        fields = next(csv.reader([text], delimiter=delimiter))[:-1]  # one field short
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter, lineterminator="\n").writerow(fields)
        return out.getvalue()
    return f"{text}{delimiter}unexpected\n"  # one field too many


def inject(
    rng: np.random.Generator,
    source: str,
    line_at: Callable[[int], str],
    ok: np.ndarray,
    delimiter: str,
    file_day: dt.date,
    end: dt.date,
    rate: float,
) -> tuple[list[tuple[int, str]], Counter[str]]:
    """Dirty lines for one file of ``ok.size`` clean lines: each eligible line (``ok``) gives
    one with probability ``rate``. Returns (insert before clean line i, text) in file order,
    and the count per reason; ``line_at(i)`` is only called for the lines dirt derives from."""
    candidates = np.flatnonzero(ok)
    n_dirty = int(rng.binomial(candidates.size, rate))
    counts: Counter[str] = Counter()
    if n_dirty == 0:
        return [], counts
    names, weights = zip(*REASONS[source], strict=True)
    p = np.asarray(weights, float) / sum(weights)
    bases = rng.choice(candidates, n_dirty, replace=False)
    reasons = rng.choice(len(names), n_dirty, p=p)
    inserts: list[tuple[int, int, str]] = []
    for k, (base, code) in enumerate(zip(bases.tolist(), reasons.tolist(), strict=True)):
        reason = names[code]
        text = _dirty_line(rng, source, line_at(base), reason, k, delimiter, file_day, end)
        low = base + 1 if reason == "duplicate_line" else 0  # a copy comes after its original
        inserts.append((int(rng.integers(low, ok.size + 1)), k, text))
        counts[reason] += 1
    return [(position, text) for position, _, text in sorted(inserts)], counts
