"""The ``allocate_offer`` job: a limited offer for the latest segments, on demand.

It is not part of the nightly job: an offer is a business decision taken when needed, with its
own slots, policy, exclusions and seed in the run config. It writes to the working warehouse, so
it runs in-process and carries the warehouse tag (one writer at a time). The offer tables are
declared as external assets so the UI shows where they come from and each run's materialization.
"""

import datetime as dt

import dagster as dg

from orchestration import settings
from orchestration.defs.resources import Warehouse
from orchestration.operations.runs import WAREHOUSE_TAG
from orchestration.segments import offers

SEGMENTS = dg.AssetKey(["main", "customer_segments"])
OFFER_TABLES = {
    "offer_allocation": "Ranked customers of each limited offer, with the reason for each place.",
    "offer_policy_comparison": (
        "For each offer, every policy on the same slots and exclusions: customers selected, "
        "expected clv_12m and value at risk captured, and the overlap between policies."
    ),
    "offer_history": "Who received which offer on which as-of date (read by the cooldown).",
}

offer_tables = [
    dg.AssetSpec(
        key=["main", table],
        description=f"{text} Written by the allocate_offer job, not by the nightly run.",
        group_name="segments",
        deps=[SEGMENTS],
        kinds={"python", "duckdb"},
        owners=settings.OWNERS,
    )
    for table, text in OFFER_TABLES.items()
]


class OfferConfig(dg.Config):
    """One limited offer (SPEC §6). Empty offer_id: "<as_of>-<policy>"; empty as_of: the latest
    as-of date of customer_segments; cooldown_days -1: the configured offer_cooldown_days."""

    slots: int = 10
    policy: str = "top_clv"
    exclusions: list[str] = list(offers.DEFAULT_EXCLUSIONS)
    exclude_customers: list[str] = []
    seed: int = 0
    offer_id: str = ""
    as_of: str = ""
    cooldown_days: int = -1

    def to_request(self) -> offers.OfferRequest:
        return offers.OfferRequest(
            slots=self.slots,
            policy=self.policy,
            exclusions=tuple(self.exclusions),
            exclude_customers=tuple(self.exclude_customers),
            seed=self.seed,
            offer_id=self.offer_id,
            as_of=dt.date.fromisoformat(self.as_of) if self.as_of else None,
            cooldown_days=None if self.cooldown_days < 0 else self.cooldown_days,
        )


def allocation_metadata(result: offers.Allocation) -> dict[str, dg.MetadataValue]:
    """What the person who asked for the offer checks: the list, exclusions, the comparison."""
    listing = result.allocation[["rank", "customer_id", "reason"]]
    columns = ["policy", "customers_selected", "expected_clv_12m", "expected_value_at_risk"]
    columns += [f"overlap_{p}" for p in offers.POLICIES]
    return {
        "offer_id": dg.MetadataValue.text(result.offer_id),
        "as_of_date": dg.MetadataValue.text(result.as_of.isoformat()),
        "policy": dg.MetadataValue.text(result.request.policy),
        "slots_filled": dg.MetadataValue.int(len(result.allocation)),
        "eligible_customers": dg.MetadataValue.int(result.eligible),
        "excluded": dg.MetadataValue.json(result.excluded),
        "allocation": dg.MetadataValue.md(listing.to_markdown(index=False)),
        "policy_comparison": dg.MetadataValue.md(
            result.comparison[columns].to_markdown(index=False)
        ),
    }


@dg.op(
    description=(
        "Rank the eligible customers by the policy, keep the first slots, record them; "
        "returns the printable summary."
    ),
    tags={"kind": "duckdb"},
)
def allocate_offer_op(
    context: dg.OpExecutionContext, config: OfferConfig, warehouse: Warehouse
) -> str:
    try:
        request = config.to_request()
        with warehouse.connect() as con:
            result = offers.allocate(con, request)
            offers.record(con, result)
    except offers.OfferError as error:
        raise dg.Failure(description=str(error)) from error
    text = offers.summary(result)
    context.log.info(text)
    metadata = allocation_metadata(result)
    for spec in offer_tables:
        context.log_event(dg.AssetMaterialization(asset_key=spec.key, metadata=metadata))
    return text


@dg.job(
    name="allocate_offer",
    executor_def=dg.in_process_executor,
    tags=WAREHOUSE_TAG,
    description=(
        "Allocate a limited offer: `slots`, `policy` (top_revenue_12m, top_revenue_lifetime, "
        "top_clv, top_value_at_risk, lottery), `exclusions` (internal, below_zero, let_go, "
        "cooldown, or <scheme>:<label>), `seed` for the lottery. Writes offer_allocation, "
        "offer_policy_comparison and offer_history."
    ),
)
def allocate_offer_job():
    allocate_offer_op()
