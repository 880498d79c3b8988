"""The HTML report of one as-of date (SPEC §9): one self-contained file that opens offline.

Everything is inline: the CSS in a ``<style>`` element and every chart an ``<svg>`` drawn here in
Python, so the file loads no script, font, stylesheet or image from anywhere (no CDN, no
network) and can be mailed or archived as is. It is built from a publication — the published
DuckDB file, or the Parquet exports of an earlier as-of date — never from the working
warehouse, so it shows exactly what BI tools see.

Sections: headline KPIs, segment sizes, loyalty matrix, whale curve, cohort retention,
segment migration, CLV backtest, data quality. Every chart is an ``<svg class="chart">`` with a
stable ``id`` (see :data:`CHART_IDS`), drawn with a "no data" note when its table is empty.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb

# The segment schemes whose sizes the report charts, and the table holding each.
SEGMENT_SCHEMES = (
    ("lifecycle", "loyalty_scorecard"),
    ("value_tier", "profitability_scorecard"),
    ("rfm_segment", "profitability_scorecard"),
    ("loyalty_type", "loyalty_scorecard"),
    ("loyalty_ladder", "loyalty_scorecard"),
    ("satisfaction", "loyalty_scorecard"),
    ("ten_types", "loyalty_scorecard"),
)
MIGRATION_SCHEMES = ("lifecycle", "value_tier")
CHART_IDS = (
    "chart-monthly-money",
    "chart-monthly-customers",
    *(f"chart-segments-{scheme}" for scheme, _ in SEGMENT_SCHEMES),
    "chart-loyalty-matrix",
    "chart-whale-curve",
    "chart-cohort-retention",
    *(f"chart-migration-{scheme}" for scheme in MIGRATION_SCHEMES),
    "chart-backtest",
    "chart-quarantine",
)

PALETTE = ("#2f6f9f", "#e07b39", "#5a9e5a", "#b84a62", "#7d6bb0", "#c9a227")
INK, MUTED, GRID = "#1f2933", "#6b7785", "#e3e7eb"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'

CSS = f"""
body {{ font-family: {FONT}; color: {INK}; margin: 0; background: #f6f7f9; }}
main {{ max-width: 1100px; margin: 0 auto; padding: 24px; }}
h1 {{ font-size: 26px; margin: 0 0 4px; }}
h2 {{ font-size: 19px; margin: 32px 0 8px; border-bottom: 2px solid {GRID}; padding-bottom: 4px; }}
h3 {{ font-size: 15px; margin: 16px 0 4px; }}
p, li {{ line-height: 1.45; }}
.meta, .note {{ color: {MUTED}; font-size: 13px; }}
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


# ---------------------------------------------------------------------------------------------
# Reading a publication


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict]:
    """The result of a query as a list of dicts (column name -> value)."""
    result = con.execute(sql, list(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def load(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Every number the report shows, from the tables of one publication."""
    publication = rows(con, "select * from publication order by table_name")
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
    }


# ---------------------------------------------------------------------------------------------
# Formatting


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def money(value: Any, decimals: int = 0) -> str:
    if value is None:
        return "–"
    return f"{float(value):,.{decimals}f}"


def pct(value: Any, decimals: int = 1) -> str:
    """A share (0..1) as a percentage."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.{decimals}f}%"


def num(value: Any, decimals: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):,.{decimals}f}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if high == low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


# ---------------------------------------------------------------------------------------------
# SVG charts. Each returns one <svg class="chart" id=...> with a <title> for screen readers.


def svg(chart_id: str, title: str, width: int, height: int, body: str) -> str:
    return (
        f'<svg id="{esc(chart_id)}" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{esc(chart_id)}-title">'
        f'<title id="{esc(chart_id)}-title">{esc(title)}</title>{body}</svg>'
    )


def text(
    x: float,
    y: float,
    content: Any,
    size: int = 11,
    anchor: str = "start",
    fill: str = INK,
    **attrs: Any,
) -> str:
    """An SVG text element; extra attributes as keywords (font_weight -> font-weight)."""
    extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}"{extra}>{esc(content)}</text>'
    )


def y_grid(
    ticks: Sequence[float], py: Callable[[float], float], x0: float, x1: float, y_format
) -> list[str]:
    """Horizontal grid lines from x0 to x1 with their value labels left of x0."""
    parts = []
    for tick in ticks:
        y = py(tick)
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(text(x0 - 6, y + 4, y_format(tick), 10, "end", fill=MUTED))
    return parts


def empty_chart(chart_id: str, title: str, message: str, width: int = 520) -> str:
    body = (
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="79" fill="#fafbfc" stroke="{GRID}"/>'
        + text(width / 2, 45, message, 13, "middle", fill=MUTED)
    )
    return svg(chart_id, f"{title}: {message}", width, 80, body)


def hbar_chart(
    chart_id: str,
    title: str,
    items: Sequence[tuple[str, float, str]],
    width: int = 520,
    color: str = PALETTE[0],
    label_w: int = 150,
) -> str:
    """Horizontal bars: (label, value, annotation) per item; values may be negative."""
    if not items:
        return empty_chart(chart_id, title, "no data", width)
    bar, gap, note_w = 18, 6, 120
    height = len(items) * (bar + gap) + 10
    values = [v for _, v, _ in items]
    low, high = min(0.0, *values), max(0.0, *values)
    span = (high - low) or 1.0
    plot_w = width - label_w - note_w
    zero = label_w + plot_w * (0 - low) / span
    parts = [f'<line x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height}" stroke="{MUTED}"/>']
    for i, (label, value, note) in enumerate(items):
        y = 5 + i * (bar + gap)
        x_end = label_w + plot_w * (value - low) / span
        x, w = min(zero, x_end), abs(x_end - zero)
        fill = color if value >= 0 else PALETTE[3]
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{max(w, 0.5):.1f}" height="{bar}" fill="{fill}">'
            f"<title>{esc(label)}: {esc(note)}</title></rect>"
        )
        parts.append(text(label_w - 6, y + 13, label, 11, "end"))
        parts.append(text(width - note_w + 6, y + 13, note, 11, "start", fill=MUTED))
    return svg(chart_id, title, width, height, "".join(parts))


def line_chart(
    chart_id: str,
    title: str,
    x_labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    y_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
    width: int = 1040,
    height: int = 260,
    reference: float | None = None,
    x_values: Sequence[float] | None = None,
    markers: Sequence[tuple[float, float, str]] = (),
    x_step: int | None = None,
) -> str:
    """Lines over a shared x axis; None values break a line. ``x_values`` (0..1) place the
    points (default: evenly); ``reference`` draws a dashed horizontal line; ``markers`` are
    labelled points (x in 0..1, y); ``x_step`` labels every n-th point (default: about 12)."""
    present = [v for values in series.values() for v in values if v is not None]
    if not present or not x_labels:
        return empty_chart(chart_id, title, "no data", width)
    left, right, top, bottom = 70, 20, 26, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    extra = [reference] if reference is not None else []
    ticks = nice_ticks(min(0.0, *present, *extra), max(*present, *extra))
    low, high = ticks[0], ticks[-1]
    n = len(x_labels)
    xs = list(x_values) if x_values is not None else [i / max(n - 1, 1) for i in range(n)]

    def px(fraction: float) -> float:
        return left + plot_w * fraction

    def py(value: float) -> float:
        return top + plot_h * (1 - (value - low) / (high - low))

    parts = y_grid(ticks, py, left, width - right, y_format)
    step = x_step or max(1, math.ceil(n / 12))
    shown = list(range(0, n, step))
    if (n - 1) - shown[-1] >= step / 2:
        shown.append(n - 1)
    for i in shown:
        parts.append(text(px(xs[i]), height - bottom + 16, x_labels[i], 10, "middle", fill=MUTED))
    if reference is not None:
        parts.append(
            f'<line x1="{left}" y1="{py(reference):.1f}" x2="{width - right}" '
            f'y2="{py(reference):.1f}" stroke="{INK}" stroke-dasharray="4 3"/>'
        )
    for index, (name, values) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        segments, current = [], []
        for x, value in zip(xs, values, strict=True):
            if value is None:
                if current:
                    segments.append(current)
                current = []
            else:
                current.append(f"{px(x):.1f},{py(value):.1f}")
        if current:
            segments.append(current)
        for points in segments:
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                f'points="{" ".join(points)}"><title>{esc(name)}</title></polyline>'
            )
        parts.append(
            f'<rect x="{left + 8 + index * 170}" y="6" width="12" height="12" fill="{color}"/>'
        )
        parts.append(text(left + 24 + index * 170, 16, name, 11))
    for x, y, label in markers:
        parts.append(
            f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="5" fill="{PALETTE[3]}">'
            f"<title>{esc(label)}</title></circle>"
        )
        anchor = "start" if x < 0.6 else "end"
        shift = 8 if anchor == "start" else -8
        parts.append(text(px(x) + shift, py(y) - 8, label, 11, anchor))
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="{MUTED}"/>'
    )
    return svg(chart_id, title, width, height, "".join(parts))


def bar_chart(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: dict[str, Sequence[float]],
    width: int = 1040,
    height: int = 240,
    y_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
) -> str:
    """Vertical bars, one group per category and one bar per series."""
    present = [v for values in series.values() for v in values if v is not None]
    if not present:
        return empty_chart(chart_id, title, "no data", width)
    left, right, top, bottom = 70, 20, 26, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(min(0.0, *present), max(0.0, *present))
    low, high = ticks[0], ticks[-1]

    def py(value: float) -> float:
        return top + plot_h * (1 - (value - low) / (high - low))

    parts = y_grid(ticks, py, left, width - right, y_format)
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    step = max(1, math.ceil(len(categories) / 12))
    for c, category in enumerate(categories):
        x0 = left + c * group_w + group_w * 0.1
        for s, (name, values) in enumerate(series.items()):
            value = values[c]
            if value is None:
                continue
            y, zero = py(value), py(0)
            parts.append(
                f'<rect x="{x0 + s * bar_w:.1f}" y="{min(y, zero):.1f}" width="{bar_w:.1f}" '
                f'height="{max(abs(zero - y), 0.5):.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{esc(category)} {esc(name)}: {esc(y_format(value))}</title></rect>"
            )
        if c % step == 0:
            parts.append(
                text(x0 + group_w * 0.4, height - bottom + 16, category, 10, "middle", fill=MUTED)
            )
    for s, name in enumerate(series):
        parts.append(
            f'<rect x="{left + 8 + s * 150}" y="6" width="12" height="12" '
            f'fill="{PALETTE[s % len(PALETTE)]}"/>'
        )
        parts.append(text(left + 24 + s * 150, 16, name, 11))
    parts.append(
        f'<line x1="{left}" y1="{py(0):.1f}" x2="{width - right}" y2="{py(0):.1f}" '
        f'stroke="{MUTED}"/>'
    )
    return svg(chart_id, title, width, height, "".join(parts))


def shade(value: float | None) -> str:
    """A blue of intensity ``value`` (0..1) for heatmap cells; grey for no value."""
    if value is None:
        return "#f0f2f4"
    v = max(0.0, min(1.0, float(value)))
    r, g, b = (int(247 - (247 - c) * v) for c in (47, 111, 159))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(
    chart_id: str,
    title: str,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    cells: dict[tuple[int, int], tuple[float | None, str]],
    cell: int = 26,
    label_w: int = 110,
    show_text: bool = True,
) -> str:
    """A grid of cells: (row, col) -> (intensity 0..1, text shown and in the tooltip)."""
    if not row_labels or not col_labels:
        return empty_chart(chart_id, title, "no data")
    top = 36
    width = label_w + cell * len(col_labels) + 10
    height = top + cell * len(row_labels) + 10
    parts = []
    step = 1 if cell >= 18 else math.ceil(18 / cell)
    for c, label in enumerate(col_labels):
        if c % step == 0:
            x = label_w + c * cell + cell / 2
            parts.append(text(x, top - 8, label, 10, "middle", fill=MUTED))
    for r, label in enumerate(row_labels):
        y = top + r * cell
        parts.append(text(label_w - 6, y + cell / 2 + 4, label, 10, "end"))
        for c in range(len(col_labels)):
            if (r, c) not in cells:
                continue
            value, content = cells[(r, c)]
            x = label_w + c * cell
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="{shade(value)}"><title>{esc(row_labels[r])} → {esc(col_labels[c])}: '
                f"{esc(content)}</title></rect>"
            )
            if show_text and content:
                dark = value is not None and value > 0.55
                parts.append(
                    text(
                        x + (cell - 1) / 2,
                        y + cell / 2 + 3,
                        content,
                        9,
                        "middle",
                        fill="#ffffff" if dark else INK,
                    )
                )
    return svg(chart_id, title, width, height, "".join(parts))


def loyalty_matrix(chart_id: str, cells: dict[str, dict]) -> str:
    """Dick & Basu's 2×2: relative attitude (rows) × repeat patronage (columns)."""
    title = "Loyalty matrix: relative attitude × repeat patronage (Dick & Basu)"
    if not cells:
        return empty_chart(chart_id, title, "no data")
    layout = {
        ("high", "high"): "true_loyalty",
        ("high", "low"): "latent_loyalty",
        ("low", "high"): "spurious_loyalty",
        ("low", "low"): "no_loyalty",
    }
    left, top, w, h = 120, 40, 200, 90
    # Shade relative to the largest cell, so the pattern shows even when shares are small.
    largest = max((cells.get(label, {}).get("customers") or 0) for label in layout.values()) or 1
    parts = [
        text(left + w, 18, "Repeat patronage", 12, "middle", font_weight="600"),
        text(left + w / 2, top - 6, "high", 11, "middle", fill=MUTED),
        text(left + 1.5 * w, top - 6, "low", 11, "middle", fill=MUTED),
        text(12, top + h, "Relative", 12, "start", font_weight="600"),
        text(12, top + h + 15, "attitude", 12, "start", font_weight="600"),
        text(left - 8, top + h / 2 + 4, "high", 11, "end", fill=MUTED),
        text(left - 8, top + 1.5 * h + 4, "low", 11, "end", fill=MUTED),
    ]
    for (attitude, patronage), label in layout.items():
        row = cells.get(label, {})
        x = left + (0 if patronage == "high" else w)
        y = top + (0 if attitude == "high" else h)
        share, intensity = row.get("share"), (row.get("customers") or 0) / largest
        parts.append(
            f'<rect x="{x}" y="{y}" width="{w - 2}" height="{h - 2}" fill="{shade(intensity)}" '
            f'stroke="{GRID}"><title>{esc(row.get("display_name", label))}: '
            f"{esc(row.get('customers', 0))} customers</title></rect>"
        )
        color = "#ffffff" if intensity > 0.55 else INK
        parts.append(
            text(
                x + w / 2,
                y + 30,
                row.get("display_name", label),
                13,
                "middle",
                fill=color,
                font_weight="600",
            )
        )
        parts.append(
            text(
                x + w / 2,
                y + 52,
                f"{row.get('customers', 0):,} customers",
                12,
                "middle",
                fill=color,
            )
        )
        parts.append(
            text(
                x + w / 2,
                y + 70,
                f"{pct(share)} · NPS {num(row.get('nps'))}",
                11,
                "middle",
                fill=color,
            )
        )
    undetermined = cells.get("undetermined", {})
    parts.append(
        text(
            left,
            top + 2 * h + 22,
            f"Undetermined (neutral attitude, either patronage): "
            f"{undetermined.get('customers', 0):,} customers ({pct(undetermined.get('share'))})",
            11,
            "start",
            fill=MUTED,
        )
    )
    return svg(chart_id, title, left + 2 * w + 20, top + 2 * h + 34, "".join(parts))


# ---------------------------------------------------------------------------------------------
# Sections


def card(label: str, value: str, sub: str = "") -> str:
    return (
        f'<div class="card"><div class="label">{esc(label)}</div>'
        f'<div class="value">{esc(value)}</div><div class="sub">{esc(sub)}</div></div>'
    )


def figure(chart: str, caption: str) -> str:
    return f"<figure>{chart}<figcaption>{esc(caption)}</figcaption></figure>"


def table(headers: Sequence[str], body: Iterable[Sequence[Any]], raw: bool = False) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = "".join(
        "<tr>" + "".join(f"<td>{c if raw else esc(c)}</td>" for c in line) + "</tr>"
        for line in body
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>"


def total_row(scorecard: list[dict], label: str = "all") -> dict:
    return next((r for r in scorecard if r["scheme"] == "total" and r["label"] == label), {})


def headline_section(data: dict) -> str:
    loyalty, profit = total_row(data["loyalty"]), total_row(data["profitability"])
    internal = total_row(data["loyalty"], "internal")
    latest = data["kpi"][-1] if data["kpi"] else {}
    summary = data["backtest_summary"][0] if data["backtest_summary"] else {}
    cards = [
        card(
            "External customers",
            num(loyalty.get("customers")),
            f"{num(loyalty.get('purchasers'))} purchasers · {num(internal.get('customers'))} "
            "internal",
        ),
        card("Active customers", num(latest.get("active_customers")), "an occasion in 12m"),
        card("Revenue 12m", money(profit.get("revenue_12m"))),
        card("Gross margin 12m", money(profit.get("gross_margin_12m"))),
        card("Cost to serve 12m", money(profit.get("cost_to_serve_12m"))),
        card("Contribution 12m", money(profit.get("contribution_12m"))),
        card("Retention 12m", pct(loyalty.get("retention_rate")), "active a year ago, still"),
        card(
            "Monthly churn",
            pct(latest.get("churn_rate")),
            f"retention {pct(latest.get('retention_rate'))} in {str(latest.get('month', '–'))[:7]}",
        ),
        card("Repeat rate", pct(loyalty.get("repeat_rate")), "purchasers with 2+ occasions"),
        card("NPS", num(loyalty.get("nps")), f"{num(loyalty.get('nps_respondents'))} respondents"),
        card("Mean p_alive", num(loyalty.get("mean_p_alive"), 2)),
        card(
            "Mean CLV 12m",
            money(loyalty.get("mean_clv_12m"), 2),
            f"backtest error {num(summary.get('total_error_pct'), 1)}%",
        ),
    ]
    kpi = data["kpi"][-24:]
    months = [str(r["month"])[:7] for r in kpi]
    money_chart = line_chart(
        "chart-monthly-money",
        "Monthly revenue, gross margin and contribution (last 24 months)",
        months,
        {
            "revenue": [float(r["revenue"]) for r in kpi],
            "gross margin": [float(r["gross_margin"]) for r in kpi],
            "contribution": [float(r["contribution"]) for r in kpi],
        },
    )
    customer_chart = bar_chart(
        "chart-monthly-customers",
        "Active, new, lapsed and reborn customers per month (last 24 months)",
        months,
        {
            "active": [r["active_customers"] for r in kpi],
            "new": [r["new_customers"] for r in kpi],
            "lapsed": [r["lapsed_customers"] for r in kpi],
            "reborn": [r["reborn_customers"] for r in kpi],
        },
    )
    return (
        '<section id="headline"><h2>Headline KPIs</h2>'
        f'<div class="cards">{"".join(cards)}</div>'
        '<p class="note">External customers only (internal customers are reported apart). '
        "12m = the 365 days ending on the as-of date.</p>"
        + figure(money_chart, "Money per calendar month (kpi_monthly).")
        + figure(
            customer_chart,
            "Active: an occasion in the 12m ending at the month end; "
            "lapsed at the month end; reborn: came back in the month.",
        )
        + "</section>"
    )


def segments_section(data: dict) -> str:
    figures = []
    for scheme, source in SEGMENT_SCHEMES:
        scorecard = data["loyalty"] if source == "loyalty_scorecard" else data["profitability"]
        items = [
            (
                r["display_name"] or r["label"],
                float(r["customers"]),
                f"{r['customers']:,} · {pct(r['share'])}",
            )
            for r in scorecard
            if r["scheme"] == scheme
        ]
        name = scheme.replace("_", " ")
        figures.append(
            figure(
                hbar_chart(f"chart-segments-{scheme}", f"Customers by {name}", items),
                f"{name.capitalize()} ({source}).",
            )
        )
    return (
        '<section id="segments"><h2>Segment sizes</h2><div class="grid2">'
        + "".join(figures)
        + "</div></section>"
    )


def loyalty_section(data: dict) -> str:
    cells = {r["label"]: r for r in data["loyalty"] if r["scheme"] == "loyalty_type"}
    return (
        '<section id="loyalty"><h2>Loyalty matrix</h2>'
        + figure(
            loyalty_matrix("chart-loyalty-matrix", cells),
            "Patronage is high with an F score of 4+ while active; attitude is high for a "
            "promoter or referrer and low for a detractor, a complaint in 12m or discount-driven "
            'buying. Spurious loyalty is the "fake" loyalty: buying without liking.',
        )
        + "</section>"
    )


def whale_section(data: dict) -> str:
    curve = data["whale"]
    title = "Whale curve: cumulative contribution_12m by share of customers, best first"
    if not curve:
        return (
            '<section id="whale"><h2>Whale curve</h2>'
            + figure(empty_chart("chart-whale-curve", title, "no customers", 1040), "")
            + "</section>"
        )
    first = curve[0]
    in_pct = first["peak_contribution_pct"] is not None
    xs = [float(r["customer_share"]) for r in curve]
    peak_share = float(first["peak_customer_share"])
    if in_pct:
        values = [float(r["cumulative_contribution_pct"]) for r in curve]
        peak_value, reference = float(first["peak_contribution_pct"]), 100.0
        y_format = "{:,.0f}%".format
        peak_label = f"peak {peak_value:,.0f}% with {pct(peak_share, 0)} of customers"
        unit = "% of total contribution_12m (dashed: 100%)"
    else:
        values = [float(r["cumulative_contribution_12m"]) for r in curve]
        peak_value = float(first["peak_contribution_12m"])
        reference = float(first["total_contribution_12m"])
        y_format = "{:,.0f}".format
        peak_label = f"peak {money(peak_value)} with {pct(peak_share, 0)} of customers"
        unit = (
            "money, because the total contribution_12m is not positive and a share of it "
            "means nothing (dashed: the total)"
        )
    chart = line_chart(
        "chart-whale-curve",
        title,
        [pct(x, 0) for x in xs],
        {"cumulative contribution": values},
        y_format=y_format,
        reference=reference,
        x_values=xs,
        markers=[(peak_share, peak_value, peak_label)],
        x_step=max(1, (len(curve) - 1) // 10),
    )
    facts = table(
        [
            "customers",
            "total contribution 12m",
            "peak",
            "customers at the peak",
            "below-zero customers",
            "profit lost to the below-zero tail",
        ],
        [
            [
                num(first["total_customers"]),
                money(first["total_contribution_12m"]),
                f"{money(first['peak_contribution_12m'])}"
                + (f" ({num(first['peak_contribution_pct'])}%)" if in_pct else ""),
                f"{num(first['peak_customers'])} ({pct(peak_share)})",
                num(first["below_zero_customers"]),
                money(first["profit_lost_below_zero"]),
            ]
        ],
    )
    return (
        '<section id="whale"><h2>Whale curve</h2>'
        + figure(chart, f"Kaplan & Narayanan's whale curve, y axis in {unit}.")
        + facts
        + "</section>"
    )


def cohort_section(data: dict) -> str:
    cohorts = data["cohorts"]
    row_keys = sorted({r["cohort_month"] for r in cohorts})[-24:]
    rows_index = {key: i for i, key in enumerate(row_keys)}
    max_offset = max(
        (r["months_since_first"] for r in cohorts if r["cohort_month"] in rows_index), default=-1
    )
    cells = {}
    sizes = {}
    for r in cohorts:
        if r["cohort_month"] not in rows_index:
            continue
        sizes[r["cohort_month"]] = r["cohort_customers"]
        rate = float(r["retention_rate"])
        cells[(rows_index[r["cohort_month"]], r["months_since_first"])] = (
            rate,
            f"{100 * rate:.0f}" if r["months_since_first"] else "100",
        )
    labels = [f"{str(k)[:7]} (n={sizes[k]})" for k in row_keys]
    chart = heatmap(
        "chart-cohort-retention",
        "Cohort retention: % of each first-purchase cohort buying in each later month",
        labels,
        [str(m) for m in range(max_offset + 1)],
        cells,
        cell=26,
        label_w=130,
    )
    return (
        '<section id="cohorts"><h2>Cohort retention</h2>'
        + figure(
            chart,
            "Rows: month of the first purchase occasion (the last 24 cohorts); "
            "columns: months since; cells: % of the cohort with an occasion that month.",
        )
        + "</section>"
    )


def migration_section(data: dict) -> str:
    figures = []
    names = {(r["scheme"], r["label"]): r["display_name"] for r in data["labels"]}
    order = {(r["scheme"], r["label"]): r["sort_order"] for r in data["labels"]}
    previous = next((r["previous_as_of_date"] for r in data["migration"]), None)
    for scheme in MIGRATION_SCHEMES:
        moves = [r for r in data["migration"] if r["scheme"] == scheme]
        title = f"Migration of {scheme.replace('_', ' ')} labels"
        if not moves:
            figures.append(
                figure(
                    empty_chart(
                        f"chart-migration-{scheme}",
                        title,
                        "no earlier as-of date in segment_history to compare with",
                    ),
                    "Appears from the second as-of date on.",
                )
            )
            continue

        def key(label: str, scheme: str = scheme) -> tuple:
            return (label == "not_known", order.get((scheme, label), 99), label)

        from_labels = sorted({r["from_label"] for r in moves}, key=key)
        to_labels = sorted({r["to_label"] for r in moves}, key=key)
        cells = {
            (from_labels.index(r["from_label"]), to_labels.index(r["to_label"])): (
                float(r["share_of_from"]),
                f"{r['customers']}",
            )
            for r in moves
        }
        chart = heatmap(
            f"chart-migration-{scheme}",
            title,
            [names.get((scheme, label), label) for label in from_labels],
            [names.get((scheme, label), label)[:12] for label in to_labels],
            cells,
            cell=58,
            label_w=130,
        )
        figures.append(
            figure(
                chart,
                f"Rows: label on {previous}; columns: label on the as-of "
                "date; cells: customers (shade: share of the row).",
            )
        )
    return '<section id="migration"><h2>Segment migration</h2>' + "".join(figures) + "</section>"


def backtest_section(data: dict) -> str:
    deciles = data["backtest"]
    summary = data["backtest_summary"][0] if data["backtest_summary"] else {}
    chart = bar_chart(
        "chart-backtest",
        "CLV model backtest: predicted vs actual holdout occasions by predicted decile",
        [f"D{r['decile']}" for r in deciles],
        {
            "predicted": [float(r["predicted"]) for r in deciles],
            "actual": [float(r["actual"]) for r in deciles],
        },
        y_format="{:,.0f}".format,
    )
    metrics = table(
        [
            "calibration end",
            "holdout days",
            "customers",
            "total error",
            "MAE",
            "correlation",
            "fallback used",
        ],
        [
            [
                summary.get("calibration_end", "–"),
                num(summary.get("holdout_days")),
                num(summary.get("n")),
                f"{num(summary.get('total_error_pct'), 1)}%",
                num(summary.get("mae"), 2),
                num(summary.get("correlation"), 3),
                summary.get("fallback_used", "–"),
            ]
        ],
    )
    return (
        '<section id="backtest"><h2>CLV backtest</h2>'
        + figure(
            chart,
            "The model refitted on data up to the calibration end predicts each "
            "customer's occasions in the holdout; deciles of the prediction.",
        )
        + metrics
        + "</section>"
    )


def quality_section(data: dict) -> str:
    sources = [r for r in data["quality"] if r["reason"] == "all"]
    reasons = [r for r in data["quality"] if r["reason"] != "all"]

    def status(row: dict) -> str:
        ok = row["files_not_reconciling"] == 0 and (
            row["rows_read"] == row["rows_staged"] + row["rows_quarantined"]
        )
        return '<span class="good">yes</span>' if ok else '<span class="bad">NO</span>'

    summary = table(
        [
            "source",
            "files",
            "rows read",
            "rows staged",
            "rows quarantined",
            "quarantine rate",
            "read = staged + quarantined",
        ],
        [
            [
                esc(r["source"]),
                num(r["files"]),
                num(r["rows_read"]),
                num(r["rows_staged"]),
                num(r["rows_quarantined"]),
                pct(r["quarantine_rate"], 2),
                status(r),
            ]
            for r in sources
        ],
        raw=True,
    )
    ranked = sorted(reasons, key=lambda r: -r["rows_quarantined"])
    chart = hbar_chart(
        "chart-quarantine",
        "Quarantined rows by source and reason",
        [
            (
                f"{r['source']} · {r['reason']}",
                float(r["rows_quarantined"]),
                f"{r['rows_quarantined']:,} ({pct(r['quarantine_rate'], 2)})",
            )
            for r in ranked
        ],
        width=720,
        color=PALETTE[1],
        label_w=250,
    )
    return (
        '<section id="quality"><h2>Data quality</h2>'
        "<h3>Reconciliation of the raw drops up to the as-of date</h3>"
        + summary
        + figure(
            chart,
            "Every rejected row is kept in the working warehouse's raw.quarantine "
            "with its reason; only counts are published.",
        )
        + "</section>"
    )


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
    from orchestration.publish import REPORT_NAME, read_publication

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
