"""Limited offers (SPEC §6): who gets the ten free hotel rooms, and what each policy would give.

An offer has a number of ``slots``, a ranking ``policy`` and exclusions. :func:`allocate` reads
the segments of one as-of date, drops the excluded customers, ranks the rest by the policy and
keeps the first ``slots``, each with a reason. It ranks the same eligible customers by every
other policy too, so the comparison shows the overlap between policies and the expected value
each would capture. :func:`record` writes the result to the warehouse:

- ``main.offer_allocation``: the ranked list (rank, customer, policy, score, reason) per offer;
- ``main.offer_policy_comparison``: one row per policy for the same slots and exclusions;
- ``main.offer_history``: who received which offer on which as-of date — the cooldown reads it.

Re-running an offer with the same ``offer_id`` replaces its rows, so it never excludes itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from orchestration.config import product_vars
from orchestration.segments import schemes

POLICIES = schemes.offer_policies()
# Named exclusions (SPEC §6 defaults) and the segment label each one stands for.
NAMED_EXCLUSIONS = {
    "internal": ("role", "internal"),
    "below_zero": ("value_tier", "below_zero"),
    "let_go": ("ten_types", "let_go"),
}
COOLDOWN = "cooldown"
DEFAULT_EXCLUSIONS = ("internal", "below_zero", "let_go", COOLDOWN)
# Columns of customer_segments an exclusion "<scheme>:<label>" may name. A whitelist: a typo
# must fail loudly instead of silently excluding nobody.
SCHEMES = schemes.segment_schemes()
LABEL = re.compile(r"^[a-z0-9_]+$")

# What each ranking policy sorts on (descending), as a label for reasons and reports.
POLICY_SCORE = {
    "top_revenue_12m": "revenue_12m",
    "top_revenue_lifetime": "revenue",
    "top_clv": "clv_12m",
    "top_value_at_risk": "clv_12m × (1 − p_alive)",
    "lottery": "lottery ticket",
}


class OfferError(ValueError):
    """An offer request that cannot be served (bad policy, exclusion, slots or no segments)."""


@dataclass(frozen=True)
class OfferRequest:
    """One limited offer. Empty ``offer_id`` means ``<as_of>-<policy>``; ``as_of`` None means
    the latest as-of date of customer_segments; ``cooldown_days`` None means the configured
    ``offer_cooldown_days``."""

    slots: int
    policy: str = "top_clv"
    exclusions: tuple[str, ...] = DEFAULT_EXCLUSIONS
    exclude_customers: tuple[str, ...] = ()
    seed: int = 0
    offer_id: str = ""
    as_of: dt.date | None = None
    cooldown_days: int | None = None

    def validate(self) -> None:
        if self.policy not in POLICIES:
            raise OfferError(f"unknown policy {self.policy!r}; choose one of {', '.join(POLICIES)}")
        if self.slots < 1:
            raise OfferError(f"slots must be at least 1, got {self.slots}")
        for exclusion in self.exclusions:
            parse_exclusion(exclusion)


def parse_exclusion(text: str) -> tuple[str, str] | None:
    """``(scheme, label)`` of an exclusion, or None for the cooldown. Raises on anything else."""
    if text == COOLDOWN:
        return None
    if text in NAMED_EXCLUSIONS:
        return NAMED_EXCLUSIONS[text]
    scheme, _, label = text.partition(":")
    if scheme in SCHEMES and LABEL.match(label):
        return scheme, label
    raise OfferError(
        f"unknown exclusion {text!r}: use {', '.join([*NAMED_EXCLUSIONS, COOLDOWN])} "
        f"or <scheme>:<label> with a scheme of {', '.join(SCHEMES)}"
    )


@dataclass
class Allocation:
    """The result of one offer: the ranked list, the policy comparison and who was excluded."""

    offer_id: str
    as_of: dt.date
    request: OfferRequest
    cooldown_days: int
    allocation: pd.DataFrame
    comparison: pd.DataFrame
    excluded: dict[str, int] = field(default_factory=dict)
    eligible: int = 0


def latest_as_of(con: duckdb.DuckDBPyConnection) -> dt.date:
    row = con.execute("select max(as_of_date) from main.customer_segments").fetchone()
    if not row or row[0] is None:
        raise OfferError("main.customer_segments is empty: run the pipeline first")
    return row[0]


def load_candidates(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> pd.DataFrame:
    """Every customer of ``as_of`` with the labels exclusions read and the numbers policies rank."""
    frame = con.execute(
        f"""select customer_id, {", ".join(SCHEMES)},
                   cast(revenue as double) as revenue,
                   cast(revenue_12m as double) as revenue_12m,
                   clv_12m, p_alive
            from main.customer_segments
            where as_of_date = ?
            order by customer_id""",
        [as_of],
    ).df()
    if frame.empty:
        raise OfferError(f"no customer_segments rows for as-of date {as_of}")
    return frame


def recent_recipients(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, cooldown_days: int, offer_id: str
) -> set[str]:
    """Customers offered something in the ``cooldown_days`` ending on ``as_of`` (other offers)."""
    if not table_exists(con, "offer_history"):
        return set()
    window_start = as_of - dt.timedelta(days=cooldown_days - 1)
    rows = con.execute(
        """select distinct customer_id from main.offer_history
           where offered_on between ? and ? and offer_id != ?""",
        [window_start, as_of, offer_id],
    ).fetchall()
    return {row[0] for row in rows}


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    rows = con.execute(
        """select count(*) from information_schema.tables
           where table_schema = 'main' and table_name = ?""",
        [table],
    ).fetchall()
    return rows[0][0] > 0


def exclusion_reasons(
    candidates: pd.DataFrame, request: OfferRequest, recent: set[str]
) -> pd.Series:
    """Per customer, the first exclusion that applies ('' when eligible)."""
    reasons = pd.Series("", index=candidates.index, dtype=object)
    rules: list[tuple[str, pd.Series]] = []
    for exclusion in request.exclusions:
        parsed = parse_exclusion(exclusion)
        if parsed is None:
            rules.append((exclusion, candidates["customer_id"].isin(recent)))
        else:
            scheme, label = parsed
            rules.append((exclusion, candidates[scheme] == label))
    if request.exclude_customers:
        chosen = candidates["customer_id"].isin(set(request.exclude_customers))
        rules.append(("listed", chosen))
    for name, hit in rules:
        reasons[(reasons == "") & hit] = name
    return reasons


def lottery_ticket(seed: int, customer_id: str) -> float:
    """A uniform number in [0, 1) per (seed, customer): the draw does not depend on who else
    takes part or in which order rows arrive, so a seed always gives the same winners."""
    digest = hashlib.sha256(f"{seed}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def policy_scores(eligible: pd.DataFrame, policy: str, seed: int) -> pd.Series:
    """The number each policy ranks on (higher first; lottery: lower ticket first, negated)."""
    if policy == "top_revenue_12m":
        return eligible["revenue_12m"]
    if policy == "top_revenue_lifetime":
        return eligible["revenue"]
    if policy == "top_clv":
        return eligible["clv_12m"]
    if policy == "top_value_at_risk":
        return eligible["clv_12m"] * (1 - eligible["p_alive"])
    return -eligible["customer_id"].map(lambda customer: lottery_ticket(seed, customer))


def rank_policy(eligible: pd.DataFrame, policy: str, slots: int, seed: int) -> pd.DataFrame:
    """The first ``slots`` customers by ``policy``, ties by customer_id. Customers without a
    score (no clv_12m for the CLV policies) are not ranked."""
    scored = eligible.assign(score=policy_scores(eligible, policy, seed))
    scored = scored[scored["score"].notna()]
    ranked = scored.sort_values(["score", "customer_id"], ascending=[False, True]).head(slots)
    ranked = ranked.assign(rank=range(1, len(ranked) + 1))
    if policy == "lottery":
        ranked["score"] = -ranked["score"]
    ranked["reason"] = [
        allocation_reason(row, policy, seed, len(scored)) for row in ranked.itertuples()
    ]
    return ranked


def allocation_reason(row, policy: str, seed: int, ranked_customers: int) -> str:
    place = f"rank {row.rank} of {ranked_customers} eligible with a score"
    if policy == "lottery":
        return f"lottery ticket {row.score:.6f} (seed {seed}), lowest first: {place}"
    if policy == "top_value_at_risk":
        return (
            f"clv_12m {row.clv_12m:.2f} × (1 − p_alive {row.p_alive:.2f}) = {row.score:.2f}: "
            f"{place}"
        )
    return f"{POLICY_SCORE[policy]} {row.score:.2f}: {place}"


def compare_policies(
    eligible: pd.DataFrame, request: OfferRequest, offer_id: str, as_of: dt.date
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Every policy on the same eligible customers and slots: value captured and overlaps."""
    picks = {p: rank_policy(eligible, p, request.slots, request.seed) for p in POLICIES}
    chosen_sets = {p: set(frame["customer_id"]) for p, frame in picks.items()}
    best_clv = picks["top_clv"]["clv_12m"].sum()
    rows = []
    for policy, frame in picks.items():
        value_at_risk = (frame["clv_12m"] * (1 - frame["p_alive"])).sum()
        row = {
            "offer_id": offer_id,
            "as_of_date": as_of,
            "policy": policy,
            "is_chosen_policy": policy == request.policy,
            "slots": request.slots,
            "customers_selected": len(frame),
            "expected_clv_12m": round(float(frame["clv_12m"].fillna(0).sum()), 2),
            "expected_value_at_risk": round(float(value_at_risk), 2),
            "revenue_12m": round(float(frame["revenue_12m"].sum()), 2),
            "share_of_best_clv": (
                round(float(frame["clv_12m"].fillna(0).sum() / best_clv), 4) if best_clv else None
            ),
            "mean_p_alive": (
                round(float(frame["p_alive"].mean()), 4) if frame["p_alive"].notna().any() else None
            ),
        }
        for other in POLICIES:
            row[f"overlap_{other}"] = len(chosen_sets[policy] & chosen_sets[other])
        rows.append(row)
    return pd.DataFrame(rows), picks


def allocate(con: duckdb.DuckDBPyConnection, request: OfferRequest) -> Allocation:
    """Rank the eligible customers of one as-of date for ``request`` (reads only)."""
    request.validate()
    as_of = request.as_of or latest_as_of(con)
    offer_id = request.offer_id or f"{as_of.isoformat()}-{request.policy}"
    cooldown = (
        request.cooldown_days
        if request.cooldown_days is not None
        else int(product_vars()["offer_cooldown_days"])
    )
    candidates = load_candidates(con, as_of)
    recent = recent_recipients(con, as_of, cooldown, offer_id) if cooldown > 0 else set()
    reasons = exclusion_reasons(candidates, request, recent)
    eligible = candidates[reasons == ""]
    comparison, picks = compare_policies(eligible, request, offer_id, as_of)
    chosen = picks[request.policy]
    allocation = pd.DataFrame(
        {
            "offer_id": offer_id,
            "as_of_date": as_of,
            "policy": request.policy,
            "seed": pd.array(
                [request.seed if request.policy == "lottery" else None] * len(chosen),
                dtype="Int64",
            ),
            "slots": request.slots,
            "rank": chosen["rank"].astype("int64"),
            "customer_id": chosen["customer_id"],
            "score": chosen["score"].astype(float),
            "reason": chosen["reason"],
            "clv_12m": chosen["clv_12m"],
            "p_alive": chosen["p_alive"],
            "revenue_12m": chosen["revenue_12m"],
        }
    ).reset_index(drop=True)
    excluded = reasons[reasons != ""].value_counts().to_dict()
    return Allocation(
        offer_id=offer_id,
        as_of=as_of,
        request=request,
        cooldown_days=cooldown,
        allocation=allocation,
        comparison=comparison,
        excluded={str(k): int(v) for k, v in excluded.items()},
        eligible=len(eligible),
    )


OVERLAP_COLUMNS = ",\n    ".join(f"overlap_{policy} integer" for policy in POLICIES)
# The offer tables, typed up front so BI tools see stable columns from the first offer on.
DDL = {
    "offer_allocation": """
    offer_id varchar, as_of_date date, policy varchar, seed bigint, slots integer,
    rank integer, customer_id varchar, score double, reason varchar,
    clv_12m double, p_alive double, revenue_12m double""",
    "offer_policy_comparison": f"""
    offer_id varchar, as_of_date date, policy varchar, is_chosen_policy boolean,
    slots integer, customers_selected integer, expected_clv_12m double,
    expected_value_at_risk double, revenue_12m double, share_of_best_clv double,
    mean_p_alive double,
    {OVERLAP_COLUMNS}""",
    "offer_history": """
    offer_id varchar, customer_id varchar, offered_on date, policy varchar""",
}


def record(con: duckdb.DuckDBPyConnection, result: Allocation) -> None:
    """Write one allocation, replacing any earlier rows of the same offer_id, in one transaction."""
    history = result.allocation[["offer_id", "customer_id", "as_of_date", "policy"]].rename(
        columns={"as_of_date": "offered_on"}
    )
    frames = {
        "offer_allocation": result.allocation,
        "offer_policy_comparison": result.comparison,
        "offer_history": history,
    }
    con.execute("begin transaction")
    try:
        for table, frame in frames.items():
            con.execute(f"create table if not exists main.{table} ({DDL[table]})")
            con.execute(f"delete from main.{table} where offer_id = ?", [result.offer_id])
            con.register("_offer_frame", frame)
            con.execute(f"insert into main.{table} by name select * from _offer_frame")
            con.unregister("_offer_frame")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def summary(result: Allocation) -> str:
    """A plain-text report for the CLI and the run log."""
    lines = [
        f"offer {result.offer_id}: {len(result.allocation)} of {result.request.slots} slots, "
        f"policy {result.request.policy}, as-of {result.as_of}, {result.eligible} eligible",
        "excluded: "
        + (", ".join(f"{k} {v}" for k, v in sorted(result.excluded.items())) or "nobody"),
        "",
    ]
    for row in result.allocation.itertuples():
        lines.append(f"{row.rank:>4}  {row.customer_id:<14} {row.reason}")
    lines += ["", "policy comparison (same slots and exclusions):"]
    columns = ["policy", "customers_selected", "expected_clv_12m", "expected_value_at_risk"]
    columns += [f"overlap_{p}" for p in POLICIES]
    lines.append(result.comparison[columns].to_string(index=False))
    return "\n".join(lines)
