"""Reading a publication: every number the report shows, from the published file's tables
(the published DuckDB file, or the Parquet exports of an earlier as-of date)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from orchestration.config import product_vars
from orchestration.segments import schemes


def _charted_schemes() -> tuple[tuple[str, str], ...]:
    """The schemes whose sizes the report charts, each with the scorecard holding it: the
    scorecards' schemes (dbt vars), in the seed's order."""
    config = product_vars()
    loyalty, profitability = (
        config["loyalty_scorecard_schemes"],
        config["profitability_scorecard_schemes"],
    )
    return tuple(
        (scheme, "loyalty_scorecard" if scheme in loyalty else "profitability_scorecard")
        for scheme in schemes.segment_schemes()
        if scheme in loyalty or scheme in profitability
    )


SEGMENT_SCHEMES = _charted_schemes()
MIGRATION_SCHEMES = tuple(product_vars()["migration_schemes"])
ACTIVE_DAYS = product_vars()["buying_centre_active_days"]  # quoted by the buying-centre section


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict]:
    """The result of a query as a list of dicts (column name -> value)."""
    result = con.execute(sql, list(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the publication holds ``name`` (exports of earlier versions may not)."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [name]
    ).fetchone()
    return bool(found[0])


def load(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Every number the report shows, from the tables of one publication."""
    publication = rows(con, "select * from publication order by table_name")
    contact_roles = (
        rows(
            con,
            """select labels.label, labels.display_name, count(roles.contact_id) as contacts,
                      count(roles.contact_id) filter (where roles.is_active) as active
               from segment_labels as labels
               left join contact_roles as roles on roles.contact_role = labels.label
               where labels.scheme = 'contact_role'
               group by all
               order by min(labels.sort_order)""",
        )
        if has_table(con, "contact_roles")
        else []
    )
    return {
        "publication": publication,
        "loyalty": rows(con, "select * from loyalty_scorecard order by scheme, sort_order"),
        "profitability": rows(
            con, "select * from profitability_scorecard order by scheme, sort_order"
        ),
        "kpi": rows(con, "select * from kpi_monthly order by month"),
        "whale": rows(con, "select * from whale_curve order by percentile"),
        "cohorts": rows(
            con, "select * from cohort_retention order by cohort_month, months_since_first"
        ),
        "migration": rows(
            con, "select * from segment_migration order by scheme, from_label, to_label"
        ),
        "labels": rows(con, "select * from segment_labels order by scheme, sort_order"),
        "backtest": rows(con, "select * from clv_backtest order by decile"),
        "backtest_summary": rows(con, "select * from clv_backtest_summary"),
        "quality": rows(con, "select * from data_quality order by source, reason"),
        "contact_roles": contact_roles,
        "active_days": ACTIVE_DAYS,
    }
