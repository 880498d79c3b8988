"""Ingest assets, one per source: raw drops up to D into ``raw.<source>`` or quarantine.

Rows read = staged + quarantined and the quarantine rate are Great Expectations suites
(``expectations/raw_reconciliation.yml``, ``expectations/quarantine_rate.yml``); the one check
here is ``imported_rows_used``, which needs the run's as-of date and which files are history.
"""

import dagster as dg

from orchestration import settings
from orchestration.defs.resources import Night, Warehouse
from orchestration.ingest.contract import SOURCES, Source
from orchestration.ingest.imports import active_mapping
from orchestration.ingest.loader import Loader, SourceLoad
from orchestration.ingest.quarantine import describe, reason_counts
from orchestration.warehouse import q


def load_metadata(result: SourceLoad) -> dict[str, dg.MetadataValue]:
    """What a data engineer checks after a load: counts, quarantine reasons, files."""
    rate = result.rows_quarantined / result.rows_read if result.rows_read else 0.0
    reasons = "\n".join(
        f"| {reason} | {count:,} |" for reason, count in sorted(result.quarantine_by_reason.items())
    )
    return {
        "drops_loaded": dg.MetadataValue.int(len(result.drops_loaded)),
        "drops_unchanged": dg.MetadataValue.int(result.drops_skipped),
        "rows_read": dg.MetadataValue.int(result.rows_read),
        "rows_staged": dg.MetadataValue.int(result.rows_staged),
        "rows_quarantined": dg.MetadataValue.int(result.rows_quarantined),
        "quarantine_rate": dg.MetadataValue.float(round(rate, 6)),
        "quarantine_reasons": dg.MetadataValue.md(
            "| reason | rows |\n|---|---|\n" + reasons if reasons else "no rows quarantined"
        ),
        "load_id": dg.MetadataValue.text(result.load_id),
    }


def build_ingest_asset(source: Source) -> dg.AssetsDefinition:
    deps = [dg.AssetKey(["raw", "products"])] if source.name == "orders" else []

    @dg.asset(
        key=["raw", source.name],
        name=None,
        group_name="ingest",
        description=(
            f"{source.description} Loads every new or changed drop of "
            f"`raw/{source.name}/` dated on or before D into `raw.{source.name}`; rejected "
            "rows go to `raw.quarantine` with a reason; `raw.reconciliation` records "
            "rows read = staged + quarantined per file (checked by gx_raw_reconciliation)."
        ),
        deps=deps,
        kinds={"duckdb", "python"},
        owners=settings.OWNERS,
    )
    def ingest(
        context: dg.AssetExecutionContext, warehouse: Warehouse, night: Night
    ) -> dg.MaterializeResult:
        up_to = night.date
        with warehouse.connect() as con:
            mapping = active_mapping(warehouse.paths.home)
            result = Loader(con, warehouse.paths.raw, mapping=mapping).load(source.name, up_to)
        context.log.info(
            f"{source.name}: {len(result.drops_loaded)} drops loaded, {result.rows_read} rows read"
        )
        return dg.MaterializeResult(metadata=load_metadata(result))

    return ingest


ingest_assets = [build_ingest_asset(s) for s in SOURCES.values()]


def build_imported_rows_check(source: Source) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(["raw", source.name]),
        name="imported_rows_used",
        description=(
            "Warns when a history file (an imported export) gives the as-of date no row: "
            "every row is dated after D, or every row was quarantined."
        ),
    )
    def imported_rows_used(warehouse: Warehouse, night: Night) -> dg.AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            files = history_file_use(con, source.name, night.date)
            unused = [f for f in files if f[3] == 0]
            # files with no staged row: what quarantine caught, with an example per reason
            rejected = [f[0] for f in unused if f[2] == 0 and f[1] > 0]
            reasons = reason_counts(con, source.name, rejected) if rejected else []
        table = "\n".join(
            f"| {f} | {read:,} | {staged:,} | {used:,} |" for f, read, staged, used in files
        )
        return dg.AssetCheckResult(
            passed=not unused,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "history_files": len(files),
                "files_unused": len(unused),
                "as_of_date": night.date.isoformat(),
                "files": dg.MetadataValue.md(
                    "| file | rows read | rows staged | rows visible on D |\n|---|---|---|---|\n"
                    + table
                    if files
                    else "no history files"
                ),
            },
            description=(
                f"{len(unused)} imported file(s) give no row to {night.date}: "
                + ", ".join(f[0] for f in unused)
                + (f"; every row quarantined:\n{describe(reasons)}" if reasons else "")
                if unused
                else None
            ),
        )

    return imported_rows_used


def history_file_use(con, source: str, as_of) -> list[tuple[str, int, int, int]]:
    """Per history file of ``source``: rows read, rows staged, rows visible on ``as_of``."""
    files = con.execute(
        "select file, rows_read, rows_staged from raw.reconciliation "
        "where source = ? and history order by file",
        [source],
    ).fetchall()
    if not files:
        return []
    used = dict(
        con.execute(
            f"""select _file, count(*) from raw.{q(source)}
                where _file in (select unnest(?::VARCHAR[])) and _visible_from <= ?
                group by _file""",
            [[f for f, _, _ in files], as_of],
        ).fetchall()
    )
    return [(f, read, staged, used.get(f, 0)) for f, read, staged in files]


imported_rows_checks = [build_imported_rows_check(s) for s in SOURCES.values()]
