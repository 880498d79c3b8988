"""The HTML report of one as-of date: data (what it reads) -> charts (inline SVG) -> sections ->
page (one self-contained file)."""

from orchestration.publish.report.data import rows
from orchestration.publish.report.page import (
    CHART_IDS,
    REPORT_NAME,
    render,
    report_for,
    write_report,
    write_report_from_exports,
)

__all__ = [
    "CHART_IDS",
    "REPORT_NAME",
    "render",
    "report_for",
    "rows",
    "write_report",
    "write_report_from_exports",
]
