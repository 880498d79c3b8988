"""What quarantine caught, explained: per reason the rows and one example (file, line, column,
value) with what the reason means. Every failure or warning that quarantine causes (a mandatory
source without a valid row, an imported file no row of which is used, a mapping's dry run)
prints this instead of a bare count."""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from orchestration.ingest.contract import SOURCES

EXAMPLE_CHARS = 80

HINTS = {
    "malformed_line": "the line cannot be split into the file's columns",
    "unmatched_key": "no row of the lookup file has this key",
    "ambiguous_key": "different rows of the lookup file have this key",
    "missing_key": "the identifier is empty",
    "missing_value": "the required value is empty",
    "unparseable_date": (
        "dates are read as YYYY-MM-DD[ HH:MM:SS] unless the mapping gives date_formats"
    ),
    "non_numeric_quantity": "not a number ('.' decimals unless the mapping sets decimal)",
    "non_numeric_value": "not a number ('.' decimals unless the mapping sets decimal)",
    "future_date": "dated after the end of its file's drop date",
    "unknown_product": "the products source has no such product",
    "duplicate_line": "an exact copy of an earlier line of the same drop",
    "duplicate_key": "the same key as an earlier line of the same drop, other content",
}


@dataclass(frozen=True)
class ReasonCount:
    """One quarantine reason of a source: how many rows, and the first of them."""

    source: str
    reason: str
    rows: int
    file: str
    row_number: int
    column: str
    value: str | None

    @property
    def hint(self) -> str:
        column = next((c for c in SOURCES[self.source].columns if c.name == self.column), None)
        if self.reason == "invalid_value" and column is not None and column.allowed:
            return (
                f"allowed: {', '.join(column.allowed)}; a mapping recodes other values "
                f"with values.{self.column}"
            )
        if self.reason == "invalid_value" and column is not None and column.bounds:
            low, high = column.bounds
            return f"allowed: {low:g} to {high:g}"
        return HINTS.get(self.reason, "")

    def line(self) -> str:
        value = "empty" if self.value in (None, "") else repr(_short(self.value))
        return (
            f"{self.reason}: {self.rows:,} row{'s' if self.rows != 1 else ''}, e.g. "
            f"{self.file} line {self.row_number}, column {self.column}, value {value}"
            + (f" ({self.hint})" if self.hint else "")
        )


def _short(text: str) -> str:
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def _value(record: str | None, column: str, reason: str) -> str | None:
    """The value at fault, from a quarantined row's record."""
    try:
        data = json.loads(record) if record else {}
    except json.JSONDecodeError:
        return record
    if not isinstance(data, dict):
        return str(data)
    if reason in ("unmatched_key", "ambiguous_key") and "lookup_key" in data:
        return data["lookup_key"]
    if column in data:
        return data[column]
    if "|" in column:
        return ", ".join(f"{c}={data.get(c)!r}" for c in column.split("|"))
    shown = data.get("line", {k: v for k, v in data.items() if k != "line"})
    return shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False)


def reason_counts(
    con: duckdb.DuckDBPyConnection, source: str, files: list[str] | None = None
) -> list[ReasonCount]:
    """Every quarantine reason of ``source`` (of ``files`` only, if given), most rows first,
    each with its first row (by file and line)."""
    where = "source = ?" + (" and file in (select unnest(?::VARCHAR[]))" if files else "")
    params: list = [source, files] if files else [source]
    rows = con.execute(
        f"""select reason, count(*) over (partition by reason) as n, file, row_number,
                   column_name, record
            from raw.quarantine
            where {where}
            qualify row_number() over (partition by reason order by file, row_number) = 1
            order by n desc, reason""",
        params,
    ).fetchall()
    return [
        ReasonCount(source, reason, n, file, line, column, _value(record, column, reason))
        for reason, n, file, line, column, record in rows
    ]


def describe(counts: list[ReasonCount], indent: str = "  - ") -> str:
    """One line per reason (for error messages, warnings and the CLI)."""
    return "\n".join(indent + count.line() for count in counts)
