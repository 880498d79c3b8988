"""The HTML report of one as-of date (SPEC §9): one self-contained file that opens offline.

Everything is inline: the CSS in a ``<style>`` element and every chart an ``<svg>`` drawn here in
Python, so the file loads no script, font, stylesheet or image from anywhere (no CDN, no
network) and can be mailed or archived as is. It is built from a publication — the published
DuckDB file, or the Parquet exports of an earlier as-of date — never from the working
warehouse, so it shows exactly what BI tools see.

Sections: headline KPIs, segment sizes, loyalty matrix, buying centre, whale curve, cohort
retention, segment migration, CLV backtest, data quality. Every chart is an
``<svg class="chart">`` with a stable ``id`` (see :data:`CHART_IDS`), drawn with a "no data"
note when its table is empty.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import duckdb

from orchestration.publish.file import read_publication
from orchestration.publish.report.charts import FONT, GRID, INK, MUTED, esc
from orchestration.publish.report.data import MIGRATION_SCHEMES, SEGMENT_SCHEMES, load
from orchestration.publish.report.sections import (
    backtest_section,
    buying_centre_section,
    cohort_section,
    headline_section,
    loyalty_section,
    migration_section,
    quality_section,
    segments_section,
    whale_section,
)

CHART_IDS = (
    "chart-monthly-money",
    "chart-monthly-customers",
    *(f"chart-segments-{scheme}" for scheme, _ in SEGMENT_SCHEMES),
    "chart-loyalty-matrix",
    "chart-contact-roles",
    "chart-whale-curve",
    "chart-cohort-retention",
    *(f"chart-migration-{scheme}" for scheme in MIGRATION_SCHEMES),
    "chart-backtest",
    "chart-quarantine",
)

REPORT_NAME = "report.html"


CSS = f"""
body {{ font-family: {FONT}; color: {INK}; margin: 0; background: #f6f7f9; }}
main {{ max-width: 1100px; margin: 0 auto; padding: 24px; }}
h1 {{ font-size: 26px; margin: 0 0 4px; }}
h2 {{ font-size: 19px; margin: 32px 0 8px; border-bottom: 2px solid {GRID}; padding-bottom: 4px; }}
h3 {{ font-size: 15px; margin: 16px 0 4px; }}
p, li {{ line-height: 1.45; }}
.meta, .note {{ color: {MUTED}; font-size: 13px; }}
.note.warn {{ color: #8a4b00; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(165px, 1fr)); gap: 10px; }}
.card {{ background: #fff; border: 1px solid {GRID}; border-radius: 6px; padding: 10px 12px; }}
.card .value {{ font-size: 22px; font-weight: 600; }}
.card .label {{ font-size: 12px; color: {MUTED}; text-transform: uppercase;
                letter-spacing: .03em; }}
.card .sub {{ font-size: 12px; color: {MUTED}; }}
.grid2 {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 12px; }}
figure {{ background: #fff; border: 1px solid {GRID}; border-radius: 6px; margin: 0;
          padding: 10px; overflow-x: auto; }}
figcaption {{ font-size: 13px; color: {MUTED}; margin-top: 4px; }}
svg.chart {{ display: block; max-width: 100%; height: auto; font-family: {FONT}; }}
table {{ border-collapse: collapse; background: #fff; font-size: 13px; margin: 6px 0; }}
th, td {{ border: 1px solid {GRID}; padding: 4px 8px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
th {{ background: #eef1f4; }}
.bad {{ color: #b84a62; font-weight: 600; }}
.good {{ color: #3d7f3d; font-weight: 600; }}
"""


def render(data: dict) -> str:
    """The whole HTML document."""
    publication = data["publication"]
    as_of = publication[0]["as_of_date"] if publication else "–"
    published_at = publication[0]["published_at"] if publication else "–"
    run_id = publication[0]["run_id"] if publication else "–"
    counts = ", ".join(f"{r['table_name']} {r['row_count']:,}" for r in publication)
    sections = [
        headline_section(data),
        segments_section(data),
        loyalty_section(data),
        buying_centre_section(data),
        whale_section(data),
        cohort_section(data),
        migration_section(data),
        backtest_section(data),
        quality_section(data),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>clientele report {esc(as_of)}</title>"
        f"<style>{CSS}</style></head><body><main>"
        f"<h1>clientele · customer report for {esc(as_of)}</h1>"
        f'<p class="meta">Published {esc(published_at)} UTC · run {esc(run_id)}</p>'
        + "".join(sections)
        + f'<p class="meta">Rows published: {esc(counts)}.</p>'
        "</main></body></html>\n"
    )


def write_report(database: Path, out: Path) -> Path:
    """Render the report of the publication in ``database`` to ``out`` (atomically)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        document = render(load(con))
    finally:
        con.close()
    return write_html(document, out)


def write_report_from_exports(export_dir: Path, out: Path) -> Path:
    """Render the report of an earlier as-of date from its Parquet exports."""
    con = duckdb.connect()
    try:
        for path in sorted(export_dir.glob("*.parquet")):
            con.read_parquet(str(path)).create_view(path.stem)
        document = render(load(con))
    finally:
        con.close()
    return write_html(document, out)


def write_html(document: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        partial.write_text(document, encoding="utf-8")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def report_for(paths, as_of: dt.date | None = None) -> Path:
    """Regenerate ``exports/<D>/report.html`` of a home: from the published file when it holds
    D (or D is not given), else from the Parquet exports of D."""
    published_as_of = None
    if paths.published.exists():
        published_as_of = read_publication(paths.published)["as_of_date"]
    if as_of is None or as_of == published_as_of:
        if published_as_of is None:
            raise FileNotFoundError(f"no published file at {paths.published}: run the pipeline")
        return write_report(
            paths.published, paths.export_dir(published_as_of.isoformat()) / REPORT_NAME
        )
    export_dir = paths.export_dir(as_of.isoformat())
    if not (export_dir / "publication.parquet").exists():
        raise FileNotFoundError(
            f"as-of date {as_of} is neither published ({published_as_of or 'nothing'} is) "
            f"nor exported under {export_dir}"
        )
    return write_report_from_exports(export_dir, export_dir / REPORT_NAME)
