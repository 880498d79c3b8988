"""``clientele mapping check``: a mapping tried on an export without touching any warehouse.

The export is imported into a temporary home and loaded into an in-memory DuckDB by the same
code as a run (``imports``, ``loader``), so what the check says a run would stage, quarantine and
date is what a run does: how the first rows map, which input columns nothing reads, what each
quarantine reason catches over the whole input (with an example), the event dates and the drops
the import would create.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from orchestration.ingest import imports
from orchestration.ingest.contract import HISTORY_DIR, SOURCES
from orchestration.ingest.drops import DATE_IN_PATH
from orchestration.ingest.loader import Loader
from orchestration.ingest.lookups import LOOKUP_DIR, lookup_files
from orchestration.ingest.mapping import Mapping, MappingError, read_source_file
from orchestration.ingest.quarantine import describe, reason_counts
from orchestration.ingest.readers import FileRead, IngestError, read_any
from orchestration.warehouse import q

VALUE_CHARS = 30


@dataclass
class CheckReport:
    """What ``mapping check`` prints, and whether a run with this mapping would load."""

    lines: list[str] = field(default_factory=list)
    ok: bool = True

    def add(self, text: str = "") -> None:
        self.lines.append(text)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def table(rows: list[dict[str, object]], indent: str = "    ") -> list[str]:
    """Rows as an aligned text table (columns that are empty in every row left out)."""
    columns = [c for c in rows[0] if any(r[c] not in (None, "") for r in rows)] if rows else []
    widths = {c: max(len(c), *(len(_cell(r[c])) for r in rows)) for c in columns}
    lines = [indent + "  ".join(c.ljust(widths[c]) for c in columns)]
    lines += [indent + "  ".join(_cell(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    return [line.rstrip() for line in lines]


def first_rows(mapping: Mapping, source: str, path: Path, rows: int) -> list[dict[str, object]]:
    """The first ``rows`` rows of a file as the mapping makes them (contract columns)."""
    batches = read_source_file(SOURCES[source], path, FileRead(path), mapping)
    batch = next(iter(batches), None)
    if batch is None:
        return []
    names = [c for c in SOURCES[source].column_names if c in batch.schema.names]
    head = pa.Table.from_batches([batch.slice(0, rows)]).select(["_row_number", *names])
    return [{"line": r.pop("_row_number"), **r} for r in head.to_pylist()]


def header(path: Path, spec) -> list[str]:
    info = FileRead(path)
    next(iter(read_any(path, info, **spec.read_options)), None)
    return info.columns


def drops_of(placed: list[Path], raw: Path) -> dict[str, list[str]]:
    """Per source, the drops the import made: ``2010-12-09 (history)`` or ``2025-03-02``."""
    drops: dict[str, set[str]] = {}
    for path in placed:
        relative = path.relative_to(raw)
        if LOOKUP_DIR in relative.parts:
            continue
        day = DATE_IN_PATH.findall(str(relative.parent))[-1]
        history = relative.parts[1] == HISTORY_DIR
        label = "-".join(day) + (" (history: rows visible from their own dates)" if history else "")
        drops.setdefault(relative.parts[0], set()).add(label)
    return {source: sorted(labels) for source, labels in drops.items()}


def check(mapping: Mapping, input_path: Path, rows: int = 5) -> CheckReport:
    """Try ``mapping`` on ``input_path`` (see the module docstring); ``ok`` is False when a run
    would fail (a missing column, an unreadable file, a mandatory source without valid rows)."""
    report = CheckReport()
    report.add(f"mapping '{mapping.name}' ({mapping.path}) on {input_path}")
    with tempfile.TemporaryDirectory(prefix="clientele-check-") as home:
        raw = Path(home) / "raw"
        try:
            placed = imports.import_input(mapping, input_path, raw)
        except (MappingError, IngestError) as exc:
            report.add(f"ERROR {exc}")
            report.ok = False
            return report
        drops = drops_of(placed, raw)
        con = duckdb.connect()
        loader = Loader(con, raw, mapping=imports.active_mapping(Path(home)))
        for source in SOURCES:  # products first: order lines are checked against them
            if not (raw / source).is_dir():
                continue
            report.add()
            try:
                load = loader.load(source)
            except IngestError as exc:
                report.add(f"{source}: ERROR {exc}")
                report.ok = False
                continue
            _describe_source(report, mapping, source, input_path, con, load, drops, rows)
        con.close()
    unread = imports.unmatched_inputs(mapping, input_path)
    if unread:
        report.add()
        report.add(
            "input files no source reads (not imported): " + ", ".join(p.name for p in unread)
        )
    report.add()
    report.add("OK: a run with this mapping would load" if report.ok else "a run would FAIL")
    return report


def _describe_source(
    report: CheckReport,
    mapping: Mapping,
    source: str,
    input_path: Path,
    con: duckdb.DuckDBPyConnection,
    load,
    drops: dict[str, list[str]],
    rows: int,
) -> None:
    spec = mapping.sources.get(source)
    files = imports.input_files(spec, input_path) if spec else []
    names = ", ".join(p.name for p in files) if files else "derived from the orders' product ids"
    report.add(f"{source} <- {names}")
    for path in files[:1] if spec else []:
        columns = header(path, spec)
        used = spec.used_columns(columns)
        report.add("  columns read:")
        for column, name in spec.resolved(columns).items():
            report.add(f"    {column:<16} <- {name}")
        for name, lookup in spec.lookups.items():
            files = ", ".join(p.name for p in lookup_files(lookup, path))
            report.add(
                f"  lookup {name}: {files} by key {' | '.join(lookup.key)}, "
                f"looked up by {' | '.join(lookup.by)}"
            )
        unused = [c for c in columns if c not in used]
        report.add("  input columns not used: " + (", ".join(unused) or "none"))
        sample = first_rows(mapping, source, path, rows)
        if sample:
            report.add(f"  first {len(sample)} rows of {path.name} as mapped:")
            report.lines.extend(table(sample))
    report.add(
        f"  rows read {load.rows_read:,}: would stage {load.rows_staged:,}, "
        f"quarantine {load.rows_quarantined:,}"
    )
    counts = reason_counts(con, source)
    if counts:
        report.lines.extend(describe(counts, indent="    - ").splitlines())
    event = SOURCES[source].event_time
    if event and load.rows_staged:
        first, last = con.execute(
            f"select min({q(event)})::DATE, max({q(event)})::DATE from raw.{q(source)}"
        ).fetchall()[0]
        report.add(f"  {event} from {_day(first)} to {_day(last)}")
    report.add("  drops: " + ", ".join(drops.get(source, [])))


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else "-"
