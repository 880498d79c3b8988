"""What the published file holds (SPEC §7, §10), in the order BI tools list them, and how each
table relates to the as-of date D."""

from __future__ import annotations

from dataclasses import dataclass

from orchestration.segments.offers import DDL as OFFER_DDL

# How a published table relates to the as-of date D, by its as_of_date column.
AS_OF = "as_of"  # computed for D: every row must be dated D, or nothing is published


UP_TO = "up_to"  # cumulative (offers): rows dated after D are left out


UNDATED = "undated"  # reference data (label names)


@dataclass(frozen=True)
class PublishedTable:
    """A warehouse table that BI reads, published as ``main.<name>``."""

    name: str
    schema: str = "main"
    dating: str = AS_OF
    # Published even before it exists, empty with this DDL (offers are made on demand).
    empty_ddl: str | None = None


# What the published file holds (SPEC §7 and §10), in the order BI tools list them.
PUBLISHED_TABLES: tuple[PublishedTable, ...] = (
    # KPIs and scorecards (SPEC §7)
    PublishedTable("kpi_monthly"),
    PublishedTable("cohort_retention"),
    PublishedTable("loyalty_scorecard"),
    PublishedTable("profitability_scorecard"),
    PublishedTable("whale_curve"),
    PublishedTable("segment_migration"),
    PublishedTable("customer_scorecard"),
    # customer-level tables (SPEC §10)
    PublishedTable("customer_facts"),
    PublishedTable("customer_segments"),
    PublishedTable("customer_actions"),
    PublishedTable("contact_roles"),  # per contact of an account: its buying-centre role
    PublishedTable("customer_clv", schema="model"),
    PublishedTable("offer_allocation", dating=UP_TO, empty_ddl=OFFER_DDL["offer_allocation"]),
    # what the report and BI need beside them: the model's backtest, the data-quality summary
    # and the label names (so BI shows "Most valuable", not most_valuable)
    PublishedTable("clv_backtest", schema="model"),
    PublishedTable("clv_backtest_summary", schema="model"),
    PublishedTable("data_quality"),
    PublishedTable("segment_labels", dating=UNDATED),
)


PUBLICATION_TABLE = "publication"


HISTORY_TABLE = "publication_history"
