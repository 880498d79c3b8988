"""Publication for BI: the published DuckDB file, the exports and the report of D (SPEC §9).

One step makes two assets: ``exports/clientele`` (Parquet, CSV and the HTML report of D under
``exports/<D>/``, every run) and ``published/clientele`` (the file BI reads, which only moves
forward: it is materialized only when this run replaced it). The step depends on every table it
publishes, so it runs last, and only when everything upstream materialized and no blocking check
failed in the run: Dagster skips the steps below a failed blocking check. Publishing reads the
working warehouse (ATTACHed read-only) after dbt has exited, in the same in-process run, and
writes a new file that replaces the published one atomically (orchestration/publish.py).
"""

import dagster as dg

from orchestration import publish, settings
from orchestration.defs.resources import Night, Warehouse
from orchestration.ingest.contract import SOURCES
from orchestration.warehouse import connect

PUBLISHED = dg.AssetKey(["published", "clientele"])
EXPORTS = dg.AssetKey(["exports", "clientele"])
# Tables written by an asset of another name: the backtest asset writes both of its tables.
WRITTEN_BY = {"clv_backtest_summary": dg.AssetKey(["model", "clv_backtest"])}

# The ingestion's bookkeeping tables, which data_quality reads: written by every ingest asset,
# declared here so the lineage shows raw/* -> raw/reconciliation, raw/quarantine -> data_quality.
ingest_bookkeeping = [
    dg.AssetSpec(
        key=["raw", table],
        description=f"{text} Written by every ingest asset.",
        group_name="ingest",
        deps=[dg.AssetKey(["raw", source]) for source in SOURCES],
        kinds={"duckdb"},
        owners=settings.OWNERS,
    )
    for table, text in (
        ("reconciliation", "Per loaded file: rows read = rows staged + rows quarantined."),
        (
            "quarantine",
            "Every rejected raw row with its reason; never published (the raw record may hold "
            "contact details).",
        ),
    )
]


def upstream_keys() -> list[dg.AssetKey]:
    """The asset that writes each published table, in publication order, without repeats."""
    keys = [
        WRITTEN_BY.get(spec.name, dg.AssetKey([spec.schema, spec.name]))
        for spec in publish.PUBLISHED_TABLES
    ]
    return list(dict.fromkeys(keys))


def headline(published) -> dict[str, float | int | None]:
    """A few numbers of the new publication, so the UI plots them night after night."""
    with connect(published, read_only=True) as con:
        row = con.execute(
            """select l.customers, l.nps, p.revenue_12m, p.contribution_12m, p.mean_clv_12m
               from main.loyalty_scorecard l
               join main.profitability_scorecard p using (scheme, label)
               where scheme = 'total' and label = 'all'"""
        ).fetchone()
    if row is None:
        return {}
    customers, nps, revenue, contribution, clv = row
    return {
        "external_customers": customers,
        "nps": None if nps is None else float(nps),
        "revenue_12m": float(revenue),
        "contribution_12m": float(contribution),
        "mean_clv_12m": None if clv is None else float(clv),
    }


def publication_metadata(result: publish.Publication) -> dict[str, dg.MetadataValue]:
    counts = "\n".join(f"| {t} | {n:,} |" for t, n in result.row_counts.items())
    removed = ", ".join(f"{t}: {', '.join(c)}" for t, c in result.removed_columns.items())
    metadata: dict[str, dg.MetadataValue] = {
        "published_file": dg.MetadataValue.path(str(result.path)),
        "as_of_date": dg.MetadataValue.text(result.as_of.isoformat()),
        "published_at": dg.MetadataValue.text(f"{result.published_at.isoformat()} UTC"),
        "row_counts": dg.MetadataValue.md("| table | rows |\n|---|---|\n" + counts),
        "pii_columns_removed": dg.MetadataValue.text(removed or "none"),
    }
    for name, value in headline(result.path).items():
        if value is not None:
            metadata[name] = dg.MetadataValue.float(float(value))
    return metadata


def not_published_reason(result: publish.Publication) -> str:
    return (
        f"not published: {result.path} holds as-of date {result.previous_as_of}, newer than "
        f"{result.as_of}; a backfill writes its exports and report only (publish_older: true "
        "replaces it)"
    )


def exports_metadata(result: publish.Publication) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {
        "as_of_date": dg.MetadataValue.text(result.as_of.isoformat()),
        "exports": dg.MetadataValue.path(str(result.export_dir)),
        "published": dg.MetadataValue.bool(result.published),
        "published_as_of": dg.MetadataValue.text(
            str(result.as_of if result.published else result.previous_as_of)
        ),
    }
    if result.report is not None:
        metadata["report"] = dg.MetadataValue.path(str(result.report))
        metadata["report_url"] = dg.MetadataValue.url(result.report.as_uri())
    if not result.published:
        metadata["not_published_because"] = dg.MetadataValue.text(not_published_reason(result))
    return metadata


@dg.multi_asset(
    name="publication",
    specs=[
        dg.AssetSpec(
            EXPORTS,
            group_name="publish",
            deps=upstream_keys(),
            kinds={"parquet", "csv", "html"},
            owners=settings.OWNERS,
            description=(
                "Parquet and CSV exports of every published table and the HTML report of D, "
                "under $CLIENTELE_HOME/exports/<D>/, written every run (backfills included)."
            ),
        ),
        dg.AssetSpec(
            PUBLISHED,
            group_name="publish",
            deps=[EXPORTS],
            kinds={"duckdb"},
            owners=settings.OWNERS,
            skippable=True,
            description=(
                "The DuckDB file BI tools read, $CLIENTELE_HOME/published/clientele.duckdb: the "
                "scorecards, KPIs and customer-level tables of D without contact-detail columns, "
                "swapped in atomically, with its publication history. It only moves forward: "
                "materialized only when a run replaced it (never by a run for an older as-of "
                "date unless publish_older is set); a failure leaves the previous one in place."
            ),
        ),
    ],
)
def publication(context: dg.AssetExecutionContext, warehouse: Warehouse, night: Night):
    paths = warehouse.paths
    as_of = night.date
    try:
        result = publish.publish(
            paths.warehouse,
            paths.published,
            as_of,
            context.run.run_id,
            export_dir=paths.export_dir(as_of.isoformat()),
            allow_older=night.publish_older,
        )
    except (publish.PublishError, OSError) as error:
        raise dg.Failure(
            description=f"{error}. The previous publication at {paths.published} is unchanged."
        ) from error
    yield dg.MaterializeResult(asset_key=EXPORTS, metadata=exports_metadata(result))
    if result.published:
        context.log.info(f"published {paths.published} for {as_of}; report {result.report}")
        yield dg.MaterializeResult(asset_key=PUBLISHED, metadata=publication_metadata(result))
    else:
        reason = not_published_reason(result)
        context.log.warning(reason)
        context.log_event(
            dg.AssetObservation(
                asset_key=PUBLISHED,
                metadata={
                    "published": dg.MetadataValue.bool(False),
                    "as_of_date": dg.MetadataValue.text(str(result.previous_as_of)),
                    "not_published_because": dg.MetadataValue.text(reason),
                },
            )
        )
