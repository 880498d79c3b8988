"""Bring your own data: a YAML mapping turns a user's export into the raw data contract.

A mapping names, per contract source, which input column feeds which contract column (with the
header variants of other editions of the export as alternatives), values looked up in other
files by key (``lookups``: a normalized export of order lines, orders and customers), how to
read and clean the values on the way (date formats, decimal separators, value recoding,
constants, defaults, templates) and rules such as "an invoice starting with C is a
cancellation". It is applied while rows are landed, so rows keep their file and line numbers and
every input row is reconciled. Presets for common export shapes live in ``presets/``. The
format is documented in ``docs/mapping.md``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from orchestration.ingest.contract import DECIMAL, INTEGER, SOURCES, TIMESTAMP, Source
from orchestration.ingest.lookups import Lookup, join, lookup_files, read_table
from orchestration.ingest.readers import FileRead, IngestError, normalize_header, read_any

PRESETS_DIR = Path(__file__).parent / "presets"
TOP_KEYS = {"name", "description", "sources"}
SOURCE_KEYS = {
    "files",
    "format",
    "encoding",
    "delimiter",
    "decimal",
    "thousands",
    "columns",
    "constants",
    "defaults",
    "date_formats",
    "templates",
    "rules",
    "values",
    "lookups",
}
LOOKUP_KEYS = {"files", "key", "by", "format", "encoding", "delimiter", "required"}
ANY_OTHER = "*"  # in ``values``: every other non-empty value
RULE_KEYS = {
    "cancelled_order_prefix",
    "non_merchandise_products",
    "non_merchandise_pattern",
    "integer_ids",
}
FORMATS = {"auto", "csv", "parquet", "jsonl", "whitespace"}


class MappingError(ValueError):
    """A mapping file that cannot be used: the message names the file and the key."""


@dataclass(frozen=True)
class Recode:
    """``values.<column>``: input values (compared trimmed and case-insensitively) recoded to
    contract values; ``default`` replaces every other non-empty value (``"*"``)."""

    rules: tuple[tuple[tuple[str, ...], str], ...]
    default: str | None = None

    def apply(self, values: pa.Array) -> pa.Array:
        key = pc.utf8_lower(pc.utf8_trim_whitespace(values))
        out, matched = values, pa.repeat(False, len(values))
        for inputs, output in self.rules:
            hit = pc.fill_null(pc.is_in(key, value_set=pa.array(inputs, pa.string())), False)
            out = pc.if_else(hit, pa.scalar(output), out)
            matched = pc.or_(matched, hit)
        if self.default is not None:
            other = pc.and_(pc.invert(matched), pc.invert(_blank(values)))
            out = pc.if_else(other, pa.scalar(self.default), out)
        return out


@dataclass
class SourceMapping:
    source: str
    files: str = "*"
    format: str = "auto"
    encoding: str = "utf-8"
    delimiter: str | None = None
    decimal: str = "."
    thousands: str | None = None
    # contract column -> your column; alternatives (header variants) are tried in order
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Recode] = field(default_factory=dict)
    lookups: dict[str, Lookup] = field(default_factory=dict)

    @property
    def read_options(self) -> dict[str, Any]:
        return {"format": self.format, "encoding": self.encoding, "delimiter": self.delimiter}

    def is_merchandise(self, product_id: str) -> bool:
        if product_id in set(self.rules.get("non_merchandise_products", [])):
            return False
        pattern = self.rules.get("non_merchandise_pattern")
        return not (pattern and re.search(pattern, product_id))

    def lookup_of(self, name: str) -> tuple[str, str] | None:
        """``("order", "order_status")`` for a column written ``order.order_status`` where
        ``order`` is a lookup of this source; None for a column of the primary file."""
        prefix, dot, rest = name.partition(".")
        if dot and prefix in self.lookups:
            return prefix, normalize_header(rest)
        return None

    def template_fields(self) -> dict[str, list[str]]:
        """The columns each template reads (``_row_number`` included)."""
        return {
            column: [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
            for column, template in self.templates.items()
        }

    def resolved(self, header: list[str]) -> dict[str, str | None]:
        """Per mapped contract column, the alternative a file with ``header`` is read by (a
        lookup's column as written; None when no alternative is in the file)."""
        present = set(header)
        out: dict[str, str | None] = {}
        for column, alternatives in self.columns.items():
            out[column] = next(
                (a for a in alternatives if self.lookup_of(a) or normalize_header(a) in present),
                None,
            )
        return out

    def used_columns(self, header: list[str]) -> set[str]:
        """The columns of a primary file with ``header`` that the mapping reads."""
        present = set(header)
        wanted: list[tuple[str, ...]] = list(self.columns.values())
        wanted += [lookup.by for lookup in self.lookups.values()]
        wanted += [(f,) for fields in self.template_fields().values() for f in fields]
        used = set()
        for alternatives in wanted:
            names = [normalize_header(a) for a in alternatives if self.lookup_of(a) is None]
            first = next((n for n in names if n in present), None)
            if first:
                used.add(first)
        return used


@dataclass
class Mapping:
    name: str
    path: Path
    description: str
    sources: dict[str, SourceMapping]


def resolve(name_or_path: str) -> Path:
    """A preset name (``invoice_lines``) or a mapping file path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    preset = PRESETS_DIR / f"{name_or_path}.yaml"
    if preset.exists():
        return preset
    presets = ", ".join(sorted(p.stem for p in PRESETS_DIR.glob("*.yaml")))
    raise MappingError(f"{name_or_path}: neither a mapping file nor a preset ({presets})")


def load(name_or_path: str | Path) -> Mapping:
    """Read and validate a mapping; every error names the file and the offending key."""
    path = resolve(str(name_or_path))
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML ({exc})") from exc

    def fail(key: str, problem: str) -> MappingError:
        return MappingError(f"{path}: {key}: {problem}")

    if not isinstance(document, dict):
        raise fail("(top level)", "expected a mapping with a 'sources' key")
    for key in document:
        if key not in TOP_KEYS:
            raise fail(key, f"unknown key (expected one of {', '.join(sorted(TOP_KEYS))})")
    sources = document.get("sources")
    if not isinstance(sources, dict) or not sources:
        raise fail("sources", "expected at least one contract source (e.g. orders)")
    parsed = {}
    for source_name, spec in sources.items():
        parsed[source_name] = _source(source_name, spec, fail)
    if "orders" not in parsed:
        raise fail("sources", "the mandatory source 'orders' is not mapped")
    return Mapping(document.get("name", path.stem), path, document.get("description", ""), parsed)


def _alternatives(value: Any, key: str, fail) -> tuple[str, ...]:
    """One column name, or a list of alternatives (the first present in a file is read)."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, (str, int, float)) and str(i) for i in items):
        raise fail(key, "expected a column name or a list of alternative column names")
    return tuple(str(i) for i in items)


def _source(name: str, spec: Any, fail) -> SourceMapping:
    prefix = f"sources.{name}"
    if name not in SOURCES:
        raise fail(prefix, f"not a contract source (one of {', '.join(SOURCES)})")
    if not isinstance(spec, dict):
        raise fail(prefix, "expected a mapping of settings")
    for key in spec:
        if key not in SOURCE_KEYS:
            raise fail(f"{prefix}.{key}", "unknown key")
    contract = SOURCES[name]
    mapping = SourceMapping(source=name)
    for key in ("files", "format", "encoding", "delimiter", "decimal", "thousands"):
        if key in spec:
            if not isinstance(spec[key], str):
                raise fail(f"{prefix}.{key}", "expected text")
            setattr(mapping, key, spec[key])
    if mapping.format not in FORMATS:
        raise fail(f"{prefix}.format", f"unknown format (one of {', '.join(sorted(FORMATS))})")
    for key in ("columns", "constants", "defaults", "date_formats", "templates", "values"):
        value = spec.get(key, {}) or {}
        if not isinstance(value, dict):
            raise fail(f"{prefix}.{key}", "expected a mapping of contract column to value")
        for column, item in value.items():
            if column not in contract.column_names:
                raise fail(f"{prefix}.{key}.{column}", f"not a column of the {name} contract")
            if key in ("columns", "values"):
                continue
            if not isinstance(item, (str, int, float, bool)):
                raise fail(f"{prefix}.{key}.{column}", "expected a single value")
        if key == "columns":
            mapping.columns = {
                c: _alternatives(v, f"{prefix}.columns.{c}", fail) for c, v in value.items()
            }
        elif key != "values":
            setattr(mapping, key, {c: str(v) for c, v in value.items()})
    mapping.lookups = _lookups(spec.get("lookups"), f"{prefix}.lookups", fail)
    for column in mapping.date_formats:
        if contract.column(column).kind != TIMESTAMP:
            raise fail(f"{prefix}.date_formats.{column}", "not a date column")
    for column, template in mapping.templates.items():
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        except ValueError as exc:
            raise fail(f"{prefix}.templates.{column}", f"bad template ({exc})") from exc
        if not fields:
            raise fail(f"{prefix}.templates.{column}", "a template needs at least one {column}")
    mapping.values = {
        column: _recode(contract, column, recode, f"{prefix}.values.{column}", fail)
        for column, recode in (spec.get("values") or {}).items()
    }
    for column in mapping.values:
        if column not in mapping.columns and column not in mapping.templates:
            raise fail(
                f"{prefix}.values.{column}", "only a column read from your files can be recoded"
            )
    rules = spec.get("rules", {}) or {}
    if not isinstance(rules, dict):
        raise fail(f"{prefix}.rules", "expected a mapping")
    for key, value in rules.items():
        if key not in RULE_KEYS:
            raise fail(
                f"{prefix}.rules.{key}", f"unknown rule (one of {', '.join(sorted(RULE_KEYS))})"
            )
        if key in ("non_merchandise_products", "integer_ids") and not isinstance(value, list):
            raise fail(f"{prefix}.rules.{key}", "expected a list")
        if key == "non_merchandise_pattern":
            try:
                re.compile(value)
            except re.error as exc:
                raise fail(f"{prefix}.rules.{key}", f"bad regular expression ({exc})") from exc
    if rules.get("cancelled_order_prefix") and name != "orders":
        raise fail(f"{prefix}.rules.cancelled_order_prefix", "only applies to orders")
    mapping.rules = rules
    provided = (
        set(mapping.columns)
        | set(mapping.constants)
        | set(mapping.templates)
        | set(mapping.defaults)
    )
    for column in contract.required_columns:
        if column not in provided:
            raise fail(f"{prefix}.columns", f"required contract column '{column}' is not mapped")
    return mapping


def _lookups(value: Any, key: str, fail) -> dict[str, Lookup]:
    """``lookups``: name -> {files, key, by, format, encoding, delimiter, required}."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(key, "expected a mapping of lookup name to its settings")
    lookups: dict[str, Lookup] = {}
    for name, spec in value.items():
        where = f"{key}.{name}"
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise fail(where, "a lookup name is a word (letters, digits, _)")
        if not isinstance(spec, dict):
            raise fail(where, "expected a mapping with files, key and by")
        for item in spec:
            if item is True:  # YAML 1.1 reads a bare `on:` as true
                raise fail(f"{where}.on", "write 'by' for the column that holds the key")
            if item not in LOOKUP_KEYS:
                known = ", ".join(sorted(LOOKUP_KEYS))
                raise fail(f"{where}.{item}", f"unknown key (one of {known})")
        for item in ("files", "key", "by"):
            if item not in spec:
                raise fail(where, f"'{item}' is required")
        by = _alternatives(spec["by"], f"{where}.by", fail)
        for alternative in by:
            other, dot, _ = alternative.partition(".")
            if dot and (other == name or other in value and other not in lookups):
                raise fail(
                    f"{where}.by",
                    f"'{alternative}': a lookup is keyed on the file's own "
                    "columns or on an earlier lookup's",
                )
        options = {}
        for item in ("files", "format", "encoding", "delimiter"):
            if item in spec:
                if not isinstance(spec[item], str):
                    raise fail(f"{where}.{item}", "expected text")
                options[item] = spec[item]
        if options.get("format", "auto") not in FORMATS:
            raise fail(f"{where}.format", f"unknown format (one of {', '.join(sorted(FORMATS))})")
        required = spec.get("required", True)
        if not isinstance(required, bool):
            raise fail(f"{where}.required", "expected true or false")
        lookups[name] = Lookup(
            name=name,
            key=_alternatives(spec["key"], f"{where}.key", fail),
            by=by,
            required=required,
            **options,
        )
    return lookups


def _recode(contract: Source, column: str, value: Any, key: str, fail) -> Recode:
    """``values.<column>``: {"input|other input": contract value, "*": value for the rest}."""
    if not isinstance(value, dict) or not value:
        raise fail(key, "expected a mapping of your values to contract values")
    allowed = contract.column(column).allowed
    rules, default = [], None
    for inputs, output in value.items():
        if not isinstance(output, (str, int, float, bool)):
            raise fail(f"{key}.{inputs}", "expected a single value")
        output = str(output).lower() if isinstance(output, bool) else str(output)
        if allowed and output.lower() not in allowed:
            raise fail(
                f"{key}.{inputs}",
                f"'{output}' is not a value of {column} (one of {', '.join(allowed)})",
            )
        if str(inputs) == ANY_OTHER:
            default = output
        else:
            names = tuple(v.strip().lower() for v in str(inputs).split("|") if v.strip())
            if not names:
                raise fail(f"{key}.{inputs}", "expected at least one value to recode")
            rules.append((names, output))
    return Recode(tuple(rules), default)


# ---------------------------------------------------------------------------------------------
# Applying a mapping to batches


def _text(array: pa.Array) -> pa.Array:
    return array if array.type == pa.string() else array.cast(pa.string())


def _blank(array: pa.Array) -> pa.Array:
    return pc.or_kleene(pc.is_null(array), pc.equal(pc.utf8_trim_whitespace(array), ""))


def _parse_dates(values: pa.Array, date_format: str) -> pa.Array:
    """Dates in the mapping's format as ISO text; values that do not parse stay as they were,
    so ingestion quarantines them as ``unparseable_date``."""
    trimmed = pc.utf8_trim_whitespace(values)
    parsed = pc.strptime(trimmed, format=date_format, unit="s", error_is_null=True)
    iso = pc.strftime(parsed, format="%Y-%m-%d %H:%M:%S")
    return pc.if_else(pc.is_null(parsed), values, iso)


def _number(values: pa.Array, decimal: str, thousands: str | None) -> pa.Array:
    if thousands:
        values = pc.replace_substring(values, thousands, "")
    if decimal != ".":
        values = pc.replace_substring(values, decimal, ".")
    return values


LINE = "_line"  # the landed column that holds a mapped row's whole line (see whole_line)
LINE_TYPE = pa.list_(pa.string())
# Landed columns of a row the mapping itself rejects (a lookup without a match): the reason,
# what failed ("order_id -> orders.csv:order_id") and the key looked up.
MAPPED_REASON = "_mapped_reason"
MAPPED_COLUMN = "_mapped_column"
MAPPED_VALUE = "_mapped_value"


def _unique(columns: list[str]) -> list[str]:
    """Column names made unique (``price``, ``price#2``), so a line can be shown as an object."""
    seen: dict[str, int] = {}
    unique = []
    for name in columns:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return unique


def line_layout(columns: list[str]) -> list[str]:
    """The names of a file's columns in the order :func:`whole_line` lists their values: sorted,
    so that two files of one drop with the same columns in another order compare line by line."""
    return sorted(_unique([c for c in columns if c != "_row_number"]))


def whole_line(batch: pa.RecordBatch) -> pa.Array:
    """Every column the file has (mapped or not) of each row, as text in :func:`line_layout`
    order: what exact duplicates are judged on (SPEC §1), so two lines that differ in a column
    the mapping does not read (a description) are not duplicates of each other."""
    positions = [i for i, n in enumerate(batch.schema.names) if n != "_row_number"]
    names = _unique([batch.schema.names[i] for i in positions])
    index = dict(zip(names, positions, strict=True))
    columns = [_text(batch.column(index[name])) for name in sorted(names)]
    n, k = batch.num_rows, len(columns)
    if k == 0:
        return pa.nulls(n, LINE_TYPE)
    flat = pa.concat_arrays(columns)
    # row i's values are flat[i], flat[n + i], flat[2n + i], ...
    order = (np.arange(n)[:, None] + np.arange(k)[None, :] * n).ravel()
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat.take(pa.array(order)))


class _Row:
    """The values a mapping reads for one batch: the primary file's columns by normalized name
    and, once joined, each lookup's columns as ``<lookup>.<column>``."""

    def __init__(self, spec: SourceMapping, batch: pa.RecordBatch, path: Path) -> None:
        self.spec, self.path, self.n = spec, path, batch.num_rows
        self.primary = [n for n in batch.schema.names if not n.startswith("_")]
        self.values: dict[str, pa.Array] = {}
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            self.values.setdefault(name, column)
        self.lookup_columns: dict[str, list[str]] = {}
        self.reason = pa.nulls(self.n, pa.string())
        self.where = pa.nulls(self.n, pa.string())
        self.key = pa.nulls(self.n, pa.string())

    def name_of(self, column: str) -> str:
        found = self.spec.lookup_of(column)
        return f"{found[0]}.{found[1]}" if found else normalize_header(column)

    def get(self, alternatives: tuple[str, ...], why: str) -> pa.Array:
        for alternative in alternatives:
            name = self.name_of(alternative)
            if name in self.values:
                return _text(self.values[name])
        tried = " or ".join(f"'{a}'" for a in alternatives)
        lookups = {self.spec.lookup_of(a)[0] for a in alternatives if self.spec.lookup_of(a)}
        found = ", ".join(self.primary) or "none"
        for lookup in sorted(lookups):
            found += f"; lookup {lookup}: " + ", ".join(self.lookup_columns.get(lookup, []))
        raise IngestError(f"{self.path}: column {tried} ({why}) is missing (found: {found})")

    def join(self, lookup: Lookup) -> None:
        """Add a lookup's columns; a required lookup's misses become this batch's reasons."""
        table = read_table(lookup, lookup_files(lookup, self.path))
        by = self.get(lookup.by, f"the key of lookup {lookup.name}")
        index, unmatched, ambiguous = join(table, by)
        self.lookup_columns[lookup.name] = list(table.columns)
        for column, values in table.columns.items():
            self.values[f"{lookup.name}.{column}"] = values.take(index)
        if not lookup.required:
            return
        by_name = next(self.name_of(a) for a in lookup.by if self.name_of(a) in self.values)
        failed = pc.or_(unmatched, ambiguous)
        fresh = pc.and_(failed, pc.is_null(self.reason))  # the first failing lookup names it
        reason = pc.if_else(ambiguous, pa.scalar("ambiguous_key"), pa.scalar("unmatched_key"))
        self.reason = pc.if_else(fresh, reason, self.reason)
        self.where = pc.if_else(fresh, pa.scalar(f"{by_name} -> {table.label}"), self.where)
        self.key = pc.if_else(fresh, by, self.key)

    def template(self, template: str) -> pa.Array:
        pieces: list[pa.Array] = []
        for literal, field_name, _, _ in string.Formatter().parse(template):
            if literal:
                pieces.append(pa.repeat(literal, self.n))
            if field_name is not None:
                pieces.append(self.get((field_name,), f"template {template!r}"))
        return pc.binary_join_element_wise(*pieces, "")


def map_batch(spec: SourceMapping, batch: pa.RecordBatch, path: Path) -> pa.RecordBatch:
    """One input batch (text columns, normalized names, ``_row_number``) in contract shape,
    with the row's whole line (:func:`whole_line`) and, for a row a lookup rejects, why."""
    contract = SOURCES[spec.source]
    n = batch.num_rows
    row = _Row(spec, batch, path)
    for lookup in spec.lookups.values():
        row.join(lookup)
    out: dict[str, pa.Array] = {}
    for column, alternatives in spec.columns.items():
        out[column] = row.get(alternatives, f"mapped to {column}")
    for column, template in spec.templates.items():
        out[column] = row.template(template)
    for column, recode in spec.values.items():
        out[column] = recode.apply(out[column])
    for column, value in spec.constants.items():
        out[column] = pa.repeat(value, n)
    for column, value in spec.defaults.items():
        current = out.get(column, pa.nulls(n, pa.string()))
        out[column] = pc.if_else(_blank(current), pa.repeat(value, n), current)
    for column in spec.rules.get("integer_ids", []):
        if column in out:
            out[column] = pc.replace_substring_regex(out[column], r"^(-?\d+)\.0+$", r"\1")
    for column, date_format in spec.date_formats.items():
        out[column] = _parse_dates(out[column], date_format)
    for column in list(out):
        if contract.column(column).kind in (DECIMAL, INTEGER):
            out[column] = _number(out[column], spec.decimal, spec.thousands)
    prefix = spec.rules.get("cancelled_order_prefix")
    if prefix:
        cancelled = pc.fill_null(pc.starts_with(out["order_id"], prefix), False)
        status = out.get("status", pa.nulls(n, pa.string()))
        out["status"] = pc.if_else(cancelled, pa.repeat("cancelled", n), status)
    out["_row_number"] = batch.column(batch.schema.get_field_index("_row_number"))
    out[LINE] = whole_line(batch)
    if spec.lookups:
        out[MAPPED_REASON], out[MAPPED_COLUMN], out[MAPPED_VALUE] = row.reason, row.where, row.key
    return pa.RecordBatch.from_pydict(out)


def check_header(spec: SourceMapping, columns: list[str], path: Path) -> None:
    """Every column of the primary file the mapping reads must be in the file (checked before
    any row); the error lists every alternative tried."""
    needed: list[tuple[tuple[str, ...], str]] = [
        (alternatives, f"mapped to {column}") for column, alternatives in spec.columns.items()
    ]
    needed += [(lookup.by, f"the key of lookup {lookup.name}") for lookup in spec.lookups.values()]
    for column, fields in spec.template_fields().items():
        needed += [((f,), f"{column} (template)") for f in fields]
    present = set(columns)
    for alternatives, why in needed:
        if any(spec.lookup_of(a) for a in alternatives):
            continue  # read from a lookup: checked when the lookup's files are read
        names = [normalize_header(a) for a in alternatives]
        if not any(n in present or n.startswith("_") for n in names):
            tried = " or ".join(f"'{a}'" for a in alternatives)
            raise IngestError(
                f"{path}: column {tried} ({why}) is missing (found: {', '.join(columns) or 'none'})"
            )


# ---------------------------------------------------------------------------------------------
# Reading a file as contract rows


def read_source_file(
    source: Source, path: Path, info: FileRead, mapping: Mapping | None = None
) -> Iterator[pa.RecordBatch]:
    """A file's rows as contract-named text columns (through the mapping, if any)."""
    spec = mapping.sources.get(source.name) if mapping else None
    if spec is None:
        yield from read_any(path, info)
        return
    checked = False
    for batch in read_any(path, info, **spec.read_options):
        if not checked:
            check_header(spec, info.columns, path)
            checked = True
        yield map_batch(spec, batch, path)
    if not checked:  # a file with a header and no rows
        check_header(spec, info.columns, path)
