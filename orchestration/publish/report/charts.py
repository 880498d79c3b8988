"""Charts as inline SVG, drawn in Python: no script, font or image from anywhere."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from typing import Any

PALETTE = ("#2f6f9f", "#e07b39", "#5a9e5a", "#b84a62", "#7d6bb0", "#c9a227")


INK, MUTED, GRID = "#1f2933", "#6b7785", "#e3e7eb"


FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'


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
    open_last: bool = False,
) -> str:
    """Lines over a shared x axis; None values break a line. ``x_values`` (0..1) place the
    points (default: evenly); ``reference`` draws a dashed horizontal line; ``markers`` are
    labelled points (x in 0..1, y); ``x_step`` labels every n-th point (default: about 12).
    ``open_last`` marks the last point as incomplete (a month to date): it is not joined to the
    line (a drop to a few days' worth would read as a collapse) but drawn as an open circle,
    its label always shown."""
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
    if open_last:  # the incomplete point is always named, its neighbour not crowding it
        shown = [i for i in shown if i < n - 1 - (step > 1)] + [n - 1]
    elif (n - 1) - shown[-1] >= step / 2:
        shown.append(n - 1)
    for i in shown:
        anchor = "end" if open_last and i == n - 1 else "middle"
        x = px(xs[i]) + (6 if anchor == "end" else 0)
        parts.append(text(x, height - bottom + 16, x_labels[i], 10, anchor, fill=MUTED))
    if reference is not None:
        parts.append(
            f'<line x1="{left}" y1="{py(reference):.1f}" x2="{width - right}" '
            f'y2="{py(reference):.1f}" stroke="{INK}" stroke-dasharray="4 3"/>'
        )
    solid = n - 1 if open_last and n > 1 else n  # points joined by the line
    for index, (name, values) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        segments, current = [], []
        for x, value in zip(xs[:solid], values[:solid], strict=True):
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
        if solid < n and values[-1] is not None:
            x, y = px(xs[-1]), py(values[-1])
            parts.append(
                f'<circle class="partial" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#ffffff" '
                f'stroke="{color}" stroke-width="2"><title>{esc(name)}, {esc(x_labels[-1])} '
                f"(incomplete): {esc(y_format(values[-1]))}</title></circle>"
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
    open_last: bool = False,
) -> str:
    """Vertical bars, one group per category and one bar per series. ``open_last`` marks the
    last group as incomplete (a month to date): pale bars with a dashed outline, its label
    always shown."""
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
    last = len(categories) - 1
    labelled = set(range(0, len(categories), step))
    if open_last:  # the incomplete group is always named, its neighbour not crowding it
        labelled = (labelled - {last - 1} if step > 1 else labelled) | {last}
    for c, category in enumerate(categories):
        x0 = left + c * group_w + group_w * 0.1
        partial = open_last and c == last
        for s, (name, values) in enumerate(series.items()):
            value = values[c]
            if value is None:
                continue
            y, zero = py(value), py(0)
            color = PALETTE[s % len(PALETTE)]
            style = (
                f' class="partial" fill-opacity="0.3" stroke="{color}" stroke-dasharray="3 2"'
                if partial
                else ""
            )
            note = " (incomplete)" if partial else ""
            parts.append(
                f'<rect x="{x0 + s * bar_w:.1f}" y="{min(y, zero):.1f}" width="{bar_w:.1f}" '
                f'height="{max(abs(zero - y), 0.5):.1f}" fill="{color}"{style}>'
                f"<title>{esc(category)}{note} {esc(name)}: {esc(y_format(value))}</title></rect>"
            )
        if c in labelled:
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
