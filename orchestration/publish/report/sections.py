"""The report's sections, each from the loaded publication: headline KPIs, segment sizes,
loyalty matrix, buying centre, whale curve, cohort retention, segment migration, CLV backtest,
data quality."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from orchestration.publish.report.charts import (
    PALETTE,
    bar_chart,
    empty_chart,
    esc,
    hbar_chart,
    heatmap,
    line_chart,
    loyalty_matrix,
    money,
    num,
    pct,
)
from orchestration.publish.report.data import MIGRATION_SCHEMES, SEGMENT_SCHEMES

# The loyalty scorecard's contacts per buying-centre role, in the order the section shows them.
ROLE_COLUMNS = (
    "contacts",
    "wallets",
    "allies",
    "internal_contacts",
    "windbags",
    "unknown_contacts",
)


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


def month_label(row: dict) -> str:
    """A kpi_monthly month as YYYY-MM, with MTD when it is month to date (exports of earlier
    publications have no month_label column)."""
    if not row:
        return "–"
    if row.get("month_label"):
        return row["month_label"]
    return str(row["month"])[:7] + (" MTD" if row.get("is_partial_month") else "")


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
            f"retention {pct(latest.get('retention_rate'))} in {month_label(latest)}",
        ),
        card("Repeat rate", pct(loyalty.get("repeat_rate")), "purchasers with 2+ occasions"),
        card("NPS", num(loyalty.get("nps")), f"{num(loyalty.get('nps_respondents'))} respondents"),
        card("Mean p_alive", num(loyalty.get("mean_p_alive"), 2)),
        card(
            "Mean CLV 12m",
            money(loyalty.get("mean_clv_12m"), 2),
            f"backtest error {num(summary.get('total_error_pct'), 1)}%"
            if summary.get("status", "ok") == "ok"
            else f"no backtest ({summary.get('status')})",
        ),
    ]
    kpi = data["kpi"][-24:]
    months = [month_label(r) for r in kpi]
    partial = bool(kpi and kpi[-1].get("is_partial_month"))
    money_chart = line_chart(
        "chart-monthly-money",
        "Monthly revenue, gross margin and contribution (last 24 months)",
        months,
        {
            "revenue": [float(r["revenue"]) for r in kpi],
            "gross margin": [float(r["gross_margin"]) for r in kpi],
            "contribution": [float(r["contribution"]) for r in kpi],
        },
        open_last=partial,
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
        open_last=partial,
    )
    to_date = (
        f" {months[-1]} is month to date (days 1–{kpi[-1]['month_end'].day} of the month): "
        "drawn open, not as a whole month."
        if partial
        else ""
    )
    return (
        '<section id="headline"><h2>Headline KPIs</h2>'
        f'<div class="cards">{"".join(cards)}</div>'
        '<p class="note">External customers only (internal customers are reported apart). '
        "12m = the 365 days ending on the as-of date.</p>"
        + figure(money_chart, "Money per calendar month (kpi_monthly)." + to_date)
        + figure(
            customer_chart,
            "Active: an occasion in the 12m ending at the month end; "
            "lapsed at the month end; reborn: came back in the month." + to_date,
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


def buying_centre_section(data: dict) -> str:
    """SPEC §5.11: who is who at the business accounts, and the accounts' actions."""
    roles = data.get("contact_roles", [])
    items = [
        (
            r["display_name"] or r["label"],
            float(r["contacts"]),
            f"{r['contacts']:,} · {r['active']:,} active",
        )
        for r in roles
    ]
    title = "Contacts of the accounts by buying-centre role"
    chart = (
        hbar_chart("chart-contact-roles", title, items, width=720, label_w=110)
        if any(r["contacts"] for r in roles)
        else empty_chart("chart-contact-roles", title, "no contacts")
    )
    block = [r for r in data["loyalty"] if r["scheme"] == "buying_centre_action"]
    headers = [
        "buying-centre action",
        "accounts",
        "share",
        "contacts",
        "wallets",
        "allies",
        "internal",
        "windbags",
        "unknown",
        "revenue share",
        "mean CLV 12m",
    ]
    body = [
        [
            r["display_name"] or r["label"],
            num(r["customers"]),
            pct(r["share"]),
            *(num(r.get(c)) for c in ROLE_COLUMNS),
            pct(r["revenue_share"]),
            money(r["mean_clv_12m"], 2),
        ]
        for r in block
    ]
    return (
        '<section id="buying-centre"><h2>Buying centre</h2>'
        + figure(
            chart,
            "Contacts of the accounts (contact_roles), by role: the wallet places or approves "
            "the orders, allies use and speak well, windbags talk much and decide nothing, "
            "internal contacts are our own people; active: an order, ticket or answer in the "
            f"last {data['active_days']} days.",
        )
        + table(headers, body)
        + '<p class="note">External accounts (loyalty_scorecard, scheme buying_centre_action); '
        "the contact columns add up to contact_roles. Reach the wallet: every wallet silent "
        "while allies stay active, the account is at risk.</p></section>"
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
    status = summary.get("status", "ok")
    title = "CLV model backtest: predicted vs actual holdout occasions by predicted decile"
    if status == "ok":
        chart = bar_chart(
            "chart-backtest",
            title,
            [f"D{r['decile']}" for r in deciles],
            {
                "predicted": [float(r["predicted"]) for r in deciles],
                "actual": [float(r["actual"]) for r in deciles],
            },
            y_format="{:,.0f}".format,
        )
        caption = (
            "The model refitted on data up to the calibration end predicts each "
            "customer's occasions in the holdout; deciles of the prediction."
        )
    else:
        chart = empty_chart("chart-backtest", title, f"no backtest: {status}", 1040)
        caption = (
            f"No backtest ({status}): {summary.get('window_note', '')}. "
            "No error figure is computed from a calibration too short to fit."
        )
    metrics = table(
        [
            "status",
            "calibration end",
            "holdout days",
            "customers",
            "total error",
            "MAE",
            "correlation",
            "calibration fit",
        ],
        [
            [
                status,
                summary.get("calibration_end") or "–",
                num(summary.get("holdout_days")),
                num(summary.get("n")),
                f"{num(summary.get('total_error_pct'), 1)}%"
                if summary.get("total_error_pct") is not None
                else "–",
                num(summary.get("mae"), 2),
                num(summary.get("correlation"), 3),
                summary.get("calibration_method") or "–",
            ]
        ],
    )
    identified = summary.get("dropout_identified")
    note = summary.get("dropout_note") or ""
    model = (
        f'<p class="note"><strong>Model identifiability.</strong> {esc(note)}</p>' if note else ""
    )
    if identified is False:
        model = model.replace('class="note"', 'class="note warn"')
        if summary.get("calibration_method") == "map":
            model += (
                '<p class="note">The backtest refits by the same procedure; the prior\'s '
                "strength was chosen on this same holdout, so its error is slightly optimistic."
                "</p>"
            )
    return (
        '<section id="backtest"><h2>CLV backtest</h2>'
        + figure(chart, caption)
        + metrics
        + model
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
