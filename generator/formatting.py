"""Turn a simulated block into text lines of each raw source, with stable identifiers.

Every line is formatted once, in Arrow compute, into its final text (CSV with the source's
delimiter, or a JSON object). Alongside it go the keys that order the output files — day,
timestamp, identifier, sub-key — so the files can be assembled from any number of blocks in a
deterministic order. Column names and order come from ``orchestration.ingest.contract.SOURCES``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator import catalogue as gc
from generator.archetypes import (
    ARCHETYPES,
    BACKGROUND,
    KINDS,
    LABEL_COLUMNS,
    SEVERITIES,
    truth_labels,
)
from generator.codes import DAY, Arrays
from generator.contacts import ALL_DEPARTMENTS, ALL_TITLES, KIND_ROLE, ROLES
from generator.simulate import Block
from orchestration.ingest.contract import SOURCES

# Output format per text source: (file suffix, delimiter or "json").
FORMATS: dict[str, tuple[str, str]] = {
    "orders": (".csv", ","),
    "customers": (".csv", ","),
    "tickets": (".jsonl", "json"),
    "surveys": (".csv.gz", ";"),
    "customer_tags": (".csv", ","),
    "contacts": (".csv", ","),  # last: each source's dirt stream is seeded by its position
}
TEXT_SOURCES = tuple(FORMATS)
# Columns written as JSON numbers (everything else is a JSON string or null).
JSON_NUMBERS = frozenset({"handling_minutes"})
# Free-text columns that may contain a delimiter or a quote and so need CSV quoting.
FREE_TEXT = frozenset({"name", "comment"})
STATUSES = ("completed", "cancelled", "returned")

# The spill schema: sort keys, the formatted line, and whether dirt may be derived from it.
SPILL_SCHEMA = pa.schema(
    [
        ("day", pa.int32()),
        ("ts", pa.int64()),
        ("seq", pa.int64()),
        ("sub", pa.int32()),
        ("line", pa.large_string()),
        ("ok", pa.bool_()),
    ]
)
# The customers' truth: the archetype's labels, then the buying-centre action the account's
# planted contacts imply (generator.contacts), empty where they imply none.
TRUTH_HEADER = ("customer_id", "archetype", *LABEL_COLUMNS, "buying_centre_action")
CONTACTS_TRUTH_HEADER = ("contact_id", "customer_id", "contact_role")


@dataclass
class Offsets:
    """Identifiers already used by earlier blocks (identifiers are global running numbers)."""

    customers: int = 0
    orders: int = 0
    tickets: int = 0
    surveys: int = 0
    contacts: int = 0


# ---------------------------------------------------------------------------------------------
# Column formatting


def _masked(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(values, mask=mask if mask is not None and mask.any() else None)


def _ids(prefix: str, nums: np.ndarray, width: int, mask: np.ndarray | None = None) -> pa.Array:
    text = pc.utf8_lpad(_masked(nums, mask).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def _int_text(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return _masked(values, mask).cast(pa.string())


def _money(cents: np.ndarray) -> pa.Array:
    """Cents as ``12.50`` (NONE becomes empty), via an exact decimal(18,2) over the cents."""
    mask = cents < 0
    unscaled = np.zeros((cents.size, 2), np.int64)  # little-endian 128-bit, never negative
    unscaled[:, 0] = np.where(mask, 0, cents)
    validity = pa.array(~mask).buffers()[1] if mask.any() else None
    decimals = pa.Array.from_buffers(
        pa.decimal128(18, 2), cents.size, [validity, pa.py_buffer(unscaled)]
    )
    return decimals.cast(pa.string())


def _timestamps(ts: np.ndarray, epoch: int, mask: np.ndarray | None = None) -> pa.Array:
    """Seconds from the data's first day as ISO ``YYYY-MM-DD HH:MM:SS``."""
    stamps = pa.array(ts + epoch, pa.timestamp("s"), mask=mask if mask is not None else None)
    return stamps.cast(pa.string())


def _lookup(labels: tuple[str, ...], codes: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pc.take(pa.array(labels, pa.string()), _masked(codes, mask))


def _quote(text: pa.Array, delimiter: str) -> pa.Array:
    """CSV-quote the values that contain the delimiter, a quote or a newline."""
    pattern = {",": ",", ";": ";"}[delimiter]
    needs = pc.match_substring_regex(text, f'[{pattern}"\\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def _ascii(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _csv_lines(source: str, cols: dict[str, pa.Array], delimiter: str) -> pa.Array:
    names = SOURCES[source].column_names
    parts = [_quote(cols[n], delimiter) if n in FREE_TEXT else cols[n] for n in names]
    joined = pc.binary_join_element_wise(
        *parts, delimiter, null_handling="replace", null_replacement=""
    )
    return pc.binary_join_element_wise(joined, "", "\n")


def _json_lines(source: str, cols: dict[str, pa.Array]) -> pa.Array:
    """One JSON object per line with the contract's keys in order; empty values are null.
    Values are identifiers, timestamps, codes and numbers: nothing needs JSON escaping."""
    parts = []
    for name in SOURCES[source].column_names:
        value = cols[name]
        if name not in JSON_NUMBERS:
            value = pc.binary_join_element_wise('"', value, '"', "")
        parts.append(pc.binary_join_element_wise(f'"{name}": ', pc.coalesce(value, "null"), ""))
    body = pc.binary_join_element_wise(*parts, ", ")
    return pc.binary_join_element_wise("{", body, "}\n", "")


def text_lines(source: str, cols: dict[str, pa.Array]) -> pa.Array:
    delimiter = FORMATS[source][1]
    if delimiter == "json":
        return _json_lines(source, cols)
    return _csv_lines(source, cols, delimiter)


def _spill_table(
    source: str,
    cols: dict[str, pa.Array],
    ts: np.ndarray,
    seq: np.ndarray,
    sub: np.ndarray,
    ok: np.ndarray,
) -> pa.Table:
    return pa.Table.from_arrays(
        [
            pa.array((ts // DAY).astype(np.int32)),
            pa.array(ts.astype(np.int64)),
            pa.array(seq.astype(np.int64)),
            pa.array(sub.astype(np.int32)),
            text_lines(source, cols).cast(pa.large_string()),
            pa.array(ok.astype(bool)),
        ],
        schema=SPILL_SCHEMA,
    )


def _rank(*keys: np.ndarray) -> np.ndarray:
    """Rank of each row when sorted by the keys (first key most significant), 0-based."""
    order = np.lexsort(tuple(reversed(keys)))
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    return rank


# ---------------------------------------------------------------------------------------------
# A block's sources


@dataclass
class FormattedBlock:
    truth: str  # truth-file lines of the block's customers, in customer_id order
    contacts_truth: str  # truth-file lines of the block's contacts, in contact_id order
    counts: dict[str, int]
    eligible: dict[str, int]  # rows dirt may be derived from (background customers, guests)
    archetypes: dict[str, int]


def format_block(
    block: Block,
    offsets: Offsets,
    epoch: int,
    cat: gc.Catalogue,
    emit: Callable[[str, pa.Table], None],
) -> FormattedBlock:
    """Number the block's customers and events after ``offsets``, format every source and hand
    each source's table to ``emit`` as soon as it is ready (one at a time keeps memory low)."""
    n = block.arch.size
    cust_num = offsets.customers + 1 + _rank(block.customers["signup_ts"], np.arange(n))
    order_num = offsets.orders + 1 + _rank(block.order_ts, np.arange(block.order_ts.size))
    ticket_num = (
        offsets.tickets + 1 + _rank(block.tickets["ts"], np.arange(block.tickets["ts"].size))
    )
    survey_num = (
        offsets.surveys + 1 + _rank(block.surveys["ts"], np.arange(block.surveys["ts"].size))
    )
    contacts = block.contacts
    contact_num = offsets.contacts + 1 + _rank(contacts["ts"], np.arange(contacts["ts"].size))
    background = block.arch == BACKGROUND

    def cust_ids(local: np.ndarray) -> pa.Array:
        return _ids("C", cust_num[np.maximum(local, 0)], 8, local < 0)  # guests: empty

    def contact_ids(local: np.ndarray) -> pa.Array:
        if not contact_num.size:
            return pa.nulls(local.size, pa.string())
        return _ids("K", contact_num[np.maximum(local, 0)], 8, local < 0)  # nobody: empty

    makers = {
        "customers": lambda: _customers(block, cust_num, cust_ids, epoch),
        "orders": lambda: _orders(block, order_num, cust_ids, contact_ids, background, epoch, cat),
        "tickets": lambda: _tickets(block, ticket_num, cust_ids, contact_ids, background, epoch),
        "surveys": lambda: _surveys(block, survey_num, cust_ids, contact_ids, background, epoch),
        "customer_tags": lambda: _tags(block, cust_num, cust_ids, background, epoch),
        "contacts": lambda: _contacts(block, contact_num, cust_ids, contact_ids, background, epoch),
    }
    counts, eligible = {}, {}
    for source, make in makers.items():
        table = make()
        counts[source] = table.num_rows
        eligible[source] = int(pc.sum(table.column("ok")).as_py() or 0)
        emit(source, table)
        del table
    offsets.customers += n
    offsets.orders += block.order_ts.size
    offsets.tickets += block.tickets["ts"].size
    offsets.surveys += block.surveys["ts"].size
    offsets.contacts += contact_num.size
    return FormattedBlock(
        truth=_truth(block.arch, block.claims, cust_num),
        contacts_truth=_contacts_truth(contacts, contact_num, cust_num),
        counts=counts,
        eligible=eligible,
        archetypes={a.name: int((block.arch == i).sum()) for i, a in enumerate(ARCHETYPES)},
    )


def _customers(block: Block, cust_num: np.ndarray, cust_ids, epoch: int) -> pa.Table:
    c = block.customers
    n = block.arch.size
    first = _lookup(gc.FIRST_NAMES, c["first_name"])
    last = _lookup(gc.LAST_NAMES, c["last_name"])
    partner = _lookup(gc.LAST_NAMES, c["partner_name"])
    suffix = _lookup(gc.COMPANY_SUFFIXES, c["suffix"])
    person = pc.binary_join_element_wise(first, last, " ")
    firm = pc.binary_join_element_wise(last, suffix, " ")
    partners = pc.binary_join_element_wise(
        pc.binary_join_element_wise(last, partner, ", "), suffix, " "
    )
    is_partners = pa.array(c["suffix"] == gc.COMPANY_SUFFIXES.index("and Partners"))
    company = pc.if_else(is_partners, partners, firm)
    name = pc.if_else(pa.array(c["business"]), company, person)
    first_ascii = tuple(_ascii(x) for x in gc.FIRST_NAMES)
    last_ascii = tuple(_ascii(x) for x in gc.LAST_NAMES)
    local = pc.binary_join_element_wise(
        _lookup(first_ascii, c["first_name"]),
        _lookup(last_ascii, c["last_name"]),
        _int_text(cust_num),
        ".",
    )
    email = pc.binary_join_element_wise(local, _lookup(gc.EMAIL_DOMAINS, c["domain"]), "@")
    phone = pc.binary_join_element_wise(
        "+1 555",
        pc.utf8_lpad(_int_text(c["phone"] // 10_000), 3, "0"),
        pc.utf8_lpad(_int_text(c["phone"] % 10_000), 4, "0"),
        " ",
    )
    referrer = c["referrer"]
    cols = {
        "customer_id": cust_ids(np.arange(n)),
        "signed_up_at": _timestamps(c["signup_ts"], epoch),
        "customer_kind": _lookup(("individual", "business"), c["business"].astype(np.int64)),
        "is_employee": _lookup(("false", "true"), c["is_employee"].astype(np.int64)),
        "referred_by": _ids("C", cust_num[np.maximum(referrer, 0)], 8, referrer < 0),
        "acquisition_channel": _lookup(gc.ACQUISITION_CHANNELS, c["acq_channel"]),
        "acquisition_cost": _money(c["acq_cost"]),
        "region": _lookup(gc.REGIONS, c["region"]),
        "email": email,
        "name": name,
        "phone": phone,
    }
    return _spill_table(
        "customers", cols, c["signup_ts"], cust_num, np.zeros(n), block.arch == BACKGROUND
    )


def _orders(
    block: Block,
    order_num: np.ndarray,
    cust_ids,
    contact_ids,
    background: np.ndarray,
    epoch: int,
    cat: gc.Catalogue,
) -> pa.Table:
    li = block.lines
    cust = li["cust"]
    cols = {
        "order_id": _ids("O", order_num[li["order"]], 9),
        "customer_id": cust_ids(cust),
        "ordered_at": _timestamps(li["ts"], epoch),
        "product_id": _lookup(cat.product_id, li["product"]),
        "quantity": _int_text(li["qty"]),
        "unit_price": _money(li["price"]),
        "line_number": _int_text(li["line_number"]),
        "discount": _money(li["discount"]),
        "unit_cost": _money(li["unit_cost"]),
        "currency": pa.array([gc.CURRENCY] * cust.size, pa.string()),
        "channel": _lookup(gc.ORDER_CHANNELS, li["channel"]),
        "status": _lookup(STATUSES, li["status"]),
        "shipping_cost": _money(li["ship_cost"]),
        "shipping_charged": _money(li["ship_charged"]),
        "contact_id": contact_ids(block.order_contact[li["order"]]),
    }
    ok = (cust < 0) | background[np.maximum(cust, 0)]
    return _spill_table("orders", cols, li["ts"], order_num[li["order"]], li["line_number"], ok)


def _tickets(
    block: Block, num: np.ndarray, cust_ids, contact_ids, background, epoch: int
) -> pa.Table:
    t = block.tickets
    cols = {
        "ticket_id": _ids("T", num, 9),
        "customer_id": cust_ids(t["cust"]),
        "opened_at": _timestamps(t["ts"], epoch),
        "closed_at": _timestamps(t["closed"], epoch, t["closed"] < 0),
        "kind": _lookup(KINDS, t["kind"]),
        "severity": _lookup(SEVERITIES, t["severity"]),
        "handling_minutes": _int_text(t["minutes"], t["minutes"] < 0),
        "contact_id": contact_ids(t["contact"]),
    }
    return _spill_table("tickets", cols, t["ts"], num, np.zeros(num.size), background[t["cust"]])


def _surveys(
    block: Block, num: np.ndarray, cust_ids, contact_ids, background, epoch: int
) -> pa.Table:
    s = block.surveys
    comments = tuple(text for band in gc.COMMENTS for text in band)
    cols = {
        "response_id": _ids("R", num, 9),
        "customer_id": cust_ids(s["cust"]),
        "responded_at": _timestamps(s["ts"], epoch),
        "nps_score": _int_text(s["nps"], s["nps"] < 0),
        "csat_score": _int_text(s["csat"], s["csat"] < 0),
        "comment": _lookup(comments, np.maximum(s["comment"], 0), s["comment"] < 0),
        "contact_id": contact_ids(s["contact"]),
    }
    return _spill_table("surveys", cols, s["ts"], num, np.zeros(num.size), background[s["cust"]])


def _tags(block: Block, cust_num: np.ndarray, cust_ids, background, epoch: int) -> pa.Table:
    t = block.tags
    cols = {
        "customer_id": cust_ids(t["cust"]),
        "tag": _lookup(gc.TAGS, t["tag"]),
        "tagged_at": _timestamps(t["ts"], epoch),
        "tagged_by": _lookup(gc.REPS, t["rep"]),
    }
    return _spill_table(
        "customer_tags", cols, t["ts"], cust_num[t["cust"]], t["tag"], background[t["cust"]]
    )


def _contacts(
    block: Block, contact_num: np.ndarray, cust_ids, contact_ids, background, epoch: int
) -> pa.Table:
    c = block.contacts
    n = contact_num.size
    first = _lookup(gc.FIRST_NAMES, c["first_name"])
    last = _lookup(gc.LAST_NAMES, c["last_name"])
    local = pc.binary_join_element_wise(
        _lookup(tuple(_ascii(x) for x in gc.FIRST_NAMES), c["first_name"]),
        _lookup(tuple(_ascii(x) for x in gc.LAST_NAMES), c["last_name"]),
        _int_text(contact_num),
        ".",
    )
    cols = {
        "contact_id": contact_ids(np.arange(n)),
        "customer_id": cust_ids(c["cust"]),
        "created_at": _timestamps(c["ts"], epoch),
        "title": _lookup(ALL_TITLES, c["title"]),
        "department": _lookup(ALL_DEPARTMENTS, c["department"]),
        "is_decision_maker": _lookup(("false", "true"), c["decision"].astype(np.int64)),
        "is_employee": _lookup(("false", "true"), c["employee"].astype(np.int64)),
        "email": pc.binary_join_element_wise(local, _lookup(gc.EMAIL_DOMAINS, c["domain"]), "@"),
        "name": pc.binary_join_element_wise(first, last, " "),
        "phone": pc.binary_join_element_wise(
            "+1 555",
            pc.utf8_lpad(_int_text(c["phone"] // 10_000), 3, "0"),
            pc.utf8_lpad(_int_text(c["phone"] % 10_000), 4, "0"),
            " ",
        ),
    }
    return _spill_table("contacts", cols, c["ts"], contact_num, np.zeros(n), background[c["cust"]])


def _truth(arch: np.ndarray, claims: np.ndarray, cust_num: np.ndarray) -> str:
    """Truth-file rows (CSV, no header) in customer_id order."""
    rows = [",".join([a.name, *truth_labels(a)]) for a in ARCHETYPES]
    order = np.argsort(cust_num, kind="stable")
    ids = _ids("C", cust_num[order], 8)
    rest = _lookup(tuple(rows), arch[order])
    claimed = pa.array(claims[order].tolist(), pa.string())
    lines = pc.binary_join_element_wise(ids, rest, claimed, ",")
    lines = pc.binary_join_element_wise(lines, "", "\n")
    return "".join(lines.to_pylist()) if len(lines) else ""


def _contacts_truth(contacts: Arrays, contact_num: np.ndarray, cust_num: np.ndarray) -> str:
    """Contacts' truth rows (CSV, no header) in contact_id order: the role each was planted
    with (generator.contacts)."""
    if not contact_num.size:
        return ""
    order = np.argsort(contact_num, kind="stable")
    roles = np.asarray(KIND_ROLE)[contacts["kind"][order]]
    lines = pc.binary_join_element_wise(
        _ids("K", contact_num[order], 8),
        _ids("C", cust_num[contacts["cust"][order]], 8),
        _lookup(ROLES, roles),
        ",",
    )
    return "".join(pc.binary_join_element_wise(lines, "", "\n").to_pylist())
