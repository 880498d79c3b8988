"""``clientele mapping suggest``: a first mapping proposed from an export's headers.

Each input file is matched to the contract source whose columns its headers name best, through
known synonyms (``InvoiceNo`` is an order id, ``UnitPrice`` a unit price, ...); a few values are
read to propose date formats, a decimal comma, float customer ids made whole and a cancellation
prefix. The proposal is YAML with comments for the user to edit and then try with
``clientele mapping check``; it never guesses a required column it did not recognise (that line
is left as a comment, and the check says what is missing). A preset that reads the files as they
are (by its headers) is named first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from orchestration.ingest import imports
from orchestration.ingest.contract import SOURCES, TIMESTAMP
from orchestration.ingest.lookups import lookup_files
from orchestration.ingest.mapping import PRESETS_DIR, MappingError, check_header, load
from orchestration.ingest.readers import FileRead, IngestError, file_format, read_any

SAMPLE_ROWS = 500


def _key(name: str) -> str:
    """A header as synonyms are written: lower case, without spaces, _ - . or quotes."""
    return re.sub(r"[\s_\-.\"']", "", name.lower())


# Known names of each contract column in exports (compared by _key). The first source listed
# for a column wins a header that several sources know (customer_id).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {
        "order_id": ("orderid", "order", "ordernumber", "orderno", "invoice", "invoiceno",
                     "invoicenumber", "invoiceid", "receipt", "receiptno", "transactionid",
                     "bon", "belegnr", "bestellnr"),
        "customer_id": ("customerid", "customer", "customerno", "customernumber", "clientid",
                        "client", "buyerid", "memberid", "userid", "kunde", "kundennr"),
        "ordered_at": ("orderedat", "orderdate", "invoicedate", "date", "purchasedate",
                       "orderpurchasetimestamp", "transactiondate", "createdat", "datum",
                       "timestamp"),
        "product_id": ("productid", "product", "stockcode", "sku", "itemid", "item", "article",
                       "articleid", "productcode", "itemcode", "artikel", "artikelnr"),
        "quantity": ("quantity", "qty", "units", "menge", "anzahl"),
        "unit_price": ("unitprice", "price", "itemprice", "preis", "einzelpreis"),
        "line_number": ("linenumber", "lineno", "line", "orderitemid", "position", "pos"),
        "discount": ("discount", "rabatt"),
        "unit_cost": ("unitcost", "cost"),
        "currency": ("currency", "waehrung"),
        "channel": ("channel", "saleschannel"),
        "status": ("status", "orderstatus", "state"),
        "shipping_cost": ("shippingcost",),
        "shipping_charged": ("shippingcharged", "shipping"),
    },
    "customers": {
        "customer_id": ("customerid", "customer", "customerno", "clientid", "memberid"),
        "signed_up_at": ("signedupat", "signupdate", "signup", "registeredat", "registrationdate",
                         "createdat", "customersince", "firstseen"),
        "customer_kind": ("customerkind", "customertype", "kind", "segment"),
        "is_employee": ("isemployee", "employee", "staff"),
        "referred_by": ("referredby", "referrer", "referrerid"),
        "acquisition_channel": ("acquisitionchannel", "channel", "source", "utmsource"),
        "acquisition_cost": ("acquisitioncost", "cac"),
        "region": ("region", "state", "country", "customerstate"),
        "email": ("email", "emailaddress", "mail"),
        "name": ("name", "fullname", "customername"),
        "phone": ("phone", "phonenumber", "telephone", "mobile"),
    },
    "products": {
        "product_id": ("productid", "product", "stockcode", "sku", "itemid", "articleid"),
        "category": ("category", "productcategory", "productcategoryname", "department"),
        "unit_cost": ("unitcost", "cost", "purchaseprice"),
        "is_merchandise": ("ismerchandise", "merchandise"),
    },
    "tickets": {
        "ticket_id": ("ticketid", "ticket", "caseid", "case", "issueid"),
        "customer_id": ("customerid", "customer", "clientid"),
        "opened_at": ("openedat", "createdat", "opened", "created", "date"),
        "closed_at": ("closedat", "closed", "resolvedat"),
        "kind": ("kind", "type", "category"),
        "severity": ("severity", "priority"),
        "handling_minutes": ("handlingminutes", "minutes", "duration"),
    },
    "surveys": {
        "response_id": ("responseid", "response", "reviewid", "surveyid", "answerid"),
        "customer_id": ("customerid", "customer", "clientid"),
        "responded_at": ("respondedat", "reviewanswertimestamp", "answeredat",
                         "reviewcreationdate", "date", "createdat"),
        "nps_score": ("npsscore", "nps", "recommend", "likelytorecommend"),
        "csat_score": ("csatscore", "csat", "reviewscore", "score", "rating", "satisfaction"),
        "comment": ("comment", "reviewcommentmessage", "text", "feedback"),
    },
    "customer_tags": {
        "customer_id": ("customerid", "customer"),
        "tag": ("tag", "label", "personality"),
        "tagged_at": ("taggedat", "date", "createdat"),
        "tagged_by": ("taggedby", "rep", "salesrep", "author"),
    },
    "contacts": {
        "contact_id": ("contactid", "contact", "personid", "person"),
        "customer_id": ("customerid", "accountid", "account", "companyid", "customer"),
        "created_at": ("createdat", "created", "addedat", "date"),
        "title": ("title", "jobtitle", "position"),
        "department": ("department", "dept", "team"),
        "is_decision_maker": ("isdecisionmaker", "decisionmaker", "approver"),
        "is_employee": ("isemployee", "employee", "internal", "staff"),
        "email": ("email", "emailaddress", "mail"),
        "name": ("name", "fullname", "contactname"),
        "phone": ("phone", "telephone", "mobile"),
    },
}  # fmt: skip

# Date formats tried on sampled values that are not ISO dates, most specific first.
DATE_FORMATS = (
    "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%Y%m%d",
)  # fmt: skip
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")
DECIMAL_COMMA = re.compile(r"^-?\d{1,3}(\.\d{3})*,\d+$|^-?\d+,\d+$")
WHOLE_FLOAT = re.compile(r"^-?\d+\.0+$")


@dataclass
class FileGuess:
    path: Path
    source: str
    header: list[str]
    columns: dict[str, str] = field(default_factory=dict)  # contract column -> header
    notes: dict[str, str] = field(default_factory=dict)  # contract column -> why (a comment)
    options: dict[str, object] = field(default_factory=dict)
    score: int = 0

    @property
    def missing(self) -> list[str]:
        """Required columns neither recognised nor given a constant."""
        constants = self.options.get("constants", {})
        return [
            c
            for c in SOURCES[self.source].required_columns
            if c not in self.columns and c not in constants
        ]

    @property
    def unused(self) -> list[str]:
        return [h for h in self.header if h not in self.columns.values()]


def _sample(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    info = FileRead(path)
    values: dict[str, list[str]] = {}
    for batch in read_any(path, info):
        for name in info.columns:
            column = batch.column(batch.schema.get_field_index(name)).cast("string")
            values.setdefault(name, []).extend(
                v for v in column.to_pylist()[:SAMPLE_ROWS] if v not in (None, "")
            )
        break
    return info.columns, values


def _match(header: list[str], source: str) -> dict[str, str]:
    """Contract column -> header, each header used once, required columns first."""
    found: dict[str, str] = {}
    taken: set[str] = set()
    keys = {h: _key(h) for h in header}
    contract = SOURCES[source]
    for column in dict.fromkeys(contract.required_columns + contract.column_names):
        for synonym in SYNONYMS[source].get(column, ()):
            hit = next((h for h in header if keys[h] == synonym and h not in taken), None)
            if hit:
                found[column] = hit
                taken.add(hit)
                break
    return found


def _score(source: str, found: dict[str, str]) -> int:
    """How well a file's headers name a source: a required column counts twice."""
    required = SOURCES[source].required_columns
    return sum(2 if c in required else 1 for c in found)


def _guess_source(header: list[str]) -> tuple[str, dict[str, str], int]:
    """The source whose columns the header names best (ties: the contract's order)."""
    best = ("orders", _match(header, "orders"), -1)
    for source in SOURCES:
        found = _match(header, source)
        if _score(source, found) > best[2]:
            best = (source, found, _score(source, found))
    return best


def _date_format(values: list[str]) -> tuple[str | None, str]:
    if not values or all(ISO.match(v.strip()) for v in values):
        return None, ""
    fits = []
    for candidate in DATE_FORMATS:
        try:
            for value in values:
                dt.datetime.strptime(value.strip(), candidate)
        except ValueError:
            continue
        fits.append(candidate)
    if not fits:
        return None, f"values such as {values[0]!r} fit no known format: write date_formats"
    note = f"from values such as {values[0]!r}"
    swapped = fits[0].replace("%d", "%x").replace("%m", "%d").replace("%x", "%m")
    if swapped != fits[0] and swapped in fits:
        note += f"; day and month order is ambiguous ({swapped!r} fits too): check"
    return fits[0], note


def guess_file(path: Path) -> FileGuess:
    header, values = _sample(path)
    source, columns, score = _guess_source(header)
    guess = FileGuess(path, source, header, columns, score=score)
    contract = SOURCES[source]
    for column, name in columns.items():
        guess.notes[column] = f"header '{name}'"
    date_formats = {}
    for column, name in columns.items():
        if contract.column(column).kind == TIMESTAMP:
            fmt, note = _date_format(values.get(name, []))
            if fmt:
                date_formats[column] = fmt
            if note:
                guess.notes[column] += f"; {note}"
    if date_formats:
        guess.options["date_formats"] = date_formats
    money = [columns[c] for c in ("unit_price", "unit_cost", "discount") if c in columns]
    sampled = [v for name in money for v in values.get(name, [])]
    if sampled and sum(bool(DECIMAL_COMMA.match(v)) for v in sampled) > len(sampled) / 2:
        guess.options["decimal"] = ","
        if any("." in v for v in sampled):
            guess.options["thousands"] = "."
    rules: dict[str, object] = {}
    ids = [c for c in ("customer_id", "referred_by") if c in columns]
    whole = [c for c in ids if values.get(columns[c]) and all(
        WHOLE_FLOAT.match(v) for v in values[columns[c]])]  # fmt: skip
    if whole:
        rules["integer_ids"] = whole
    if source == "orders" and "order_id" in columns:
        prefixes = Counter(
            m.group(1) for v in values.get(columns["order_id"], [])
            if (m := re.match(r"^([A-Za-z])\d+$", v))
        )  # fmt: skip
        numeric = sum(v.isdigit() for v in values.get(columns["order_id"], []))
        if len(prefixes) == 1 and numeric > sum(prefixes.values()):
            prefix = next(iter(prefixes))
            rules["cancelled_order_prefix"] = prefix
            guess.notes["order_id"] += f"; ids starting with {prefix!r} look like cancellations"
    if rules:
        guess.options["rules"] = rules
    if source == "orders" and "quantity" not in columns and "unit_price" not in columns:
        total = next((h for h in header if _key(h) in ("total", "ordertotal", "amount")), None)
        if total:  # an order-level export: one line of quantity 1 at the total
            columns["unit_price"] = total
            guess.notes["unit_price"] = f"header '{total}': the order total as one line"
            guess.options["constants"] = {"quantity": "1", "product_id": "ORDER"}
    return guess


def fitting_presets(input_path: Path) -> list[str]:
    """The presets whose every source finds its files in ``input_path`` with the headers (and
    lookups) it reads. Values are not tried: ``mapping check`` does that."""
    fits = []
    for preset in sorted(PRESETS_DIR.glob("*.yaml")):
        chosen = load(preset)
        try:
            for spec in chosen.sources.values():
                files = imports.input_files(spec, input_path)
                if not files:
                    raise MappingError("not this shape")
                for path in files:
                    info = FileRead(path)
                    next(iter(read_any(path, info, **spec.read_options)), None)
                    check_header(spec, info.columns, path)
                    for lookup in spec.lookups.values():
                        lookup_files(lookup, path)
        except (MappingError, IngestError, StopIteration):
            continue
        fits.append(preset.stem)
    return fits


def suggest(input_path: Path) -> str:
    """A proposed mapping for ``input_path`` (a file or a folder), as commented YAML."""
    if input_path.is_dir():
        paths = []
        for p in sorted(input_path.iterdir()):
            try:
                if p.is_file() and not p.name.startswith("."):
                    file_format(p)
                    paths.append(p)
            except IngestError:
                continue
    elif input_path.is_file():
        paths = [input_path]
    else:
        raise MappingError(f"{input_path}: no such file or folder")
    if not paths:
        raise MappingError(f"{input_path}: no CSV, Parquet or JSON lines file to read")
    guesses = [guess_file(p) for p in paths]
    lines = [
        f"# Proposed by `clientele mapping suggest --input {input_path}`: check every line,",
        f"# then try it: clientele mapping check --mapping <this file> --input {input_path}",
    ]
    presets = fitting_presets(input_path)
    if presets:
        lines.append(
            f"# The preset{'s' if len(presets) > 1 else ''} {', '.join(presets)} know"
            f"{'' if len(presets) > 1 else 's'} these headers: try it first, "
            f"clientele mapping check --mapping {presets[0]} --input {input_path}"
        )
    stem = input_path.stem if input_path.is_file() else input_path.name
    lines += [f"name: {_yaml(stem)}", "sources:"]
    by_source: dict[str, list[FileGuess]] = {}
    for guess in sorted(guesses, key=lambda g: -g.score):
        by_source.setdefault(guess.source, []).append(guess)
    if "orders" not in by_source:
        lines.insert(
            lines.index("sources:"),
            "# No file looks like order lines, and every mapping needs an orders source.",
        )
    order = ["orders", *(s for s in SOURCES if s != "orders")]
    for source in order:
        if source not in by_source:
            continue
        primary, *others = by_source[source]
        lines += _source_yaml(primary, input_path.is_dir())
        if others:
            names = ", ".join(g.path.name for g in others)
            lines.append(
                f"    # {names} also look like {source}: more files of the same rows? widen "
                "files:; one row per order or per customer? see lookups in docs/mapping.md"
            )
    return "\n".join(lines) + "\n"


def _yaml(value: object) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix("\n...")


def _source_yaml(guess: FileGuess, folder: bool) -> list[str]:
    """The source's YAML block. An optional source missing a required column is left as a
    comment (the mapping stays loadable); orders shows each missing column to fill in."""
    lines = [f"  {guess.source}:"]
    if folder:
        lines.append(f"    files: {_yaml(guess.path.name)}")
    lines.append("    columns:")
    contract = SOURCES[guess.source]
    for column in contract.column_names:
        if column in guess.columns:
            lines.append(
                f"      {column}: {_yaml(guess.columns[column])}  # {guess.notes.get(column, '')}"
            )
        elif column in guess.missing:
            lines.append(f"      # {column}: ?   # REQUIRED: no header recognised; write yours")
    for key in ("date_formats", "constants", "rules"):
        if key in guess.options:
            lines.append(f"    {key}:")
            for name, value in guess.options[key].items():
                lines.append(f"      {name}: {_yaml(value)}")
    for key in ("decimal", "thousands"):
        if key in guess.options:
            lines.append(f"    {key}: {_yaml(guess.options[key])}")
    if guess.unused:
        lines.append(f"    # not used: {', '.join(guess.unused)}")
    if guess.missing and guess.source != "orders":
        needs = ", ".join(guess.missing)
        lines = [f"  # {guess.path.name} looks like {guess.source} but has no {needs}:"] + [
            "  # " + line.strip() if i == 0 else "  #" + line[1:] for i, line in enumerate(lines)
        ]
    return lines
