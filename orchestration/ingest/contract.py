"""The raw data contract (SPEC §1): which sources exist, their columns and how each is typed.

Everything that reads or writes raw files (the generator, ingestion, the mapping layer) takes
column names and types from here, so the contract is written down exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column kinds. Raw files are read as text; ingestion parses each column by its kind and
# quarantines the row when a required value does not parse.
TEXT = "text"
TIMESTAMP = "timestamp"  # a date or a date-time
DECIMAL = "decimal"  # money and quantities: exact, never float
INTEGER = "integer"
BOOLEAN = "boolean"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = TEXT
    required: bool = False
    # Allowed values for a categorical column (compared lower-cased); None = free text.
    allowed: tuple[str, ...] | None = None
    # Inclusive bounds for a numeric column (e.g. an NPS score); None = unbounded.
    bounds: tuple[float, float] | None = None


@dataclass(frozen=True)
class Source:
    name: str
    columns: tuple[Column, ...]
    # Columns that identify a row; a second row with the same key in the same drop is a duplicate.
    key: tuple[str, ...]
    mandatory: bool = False
    # Of the required columns, which may be empty (e.g. an order line without customer = guest).
    nullable_required: tuple[str, ...] = ()
    # At least one of these must be present in the file and non-empty in the row.
    one_of: tuple[str, ...] = ()
    # The timestamp that dates a row: later than the end of its drop date means `future_date`.
    event_time: str = ""
    description: str = ""
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    def column(self, name: str) -> Column:
        return self._by_name[name]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _c(name: str, kind: str = TEXT, required: bool = False, allowed=None, bounds=None) -> Column:
    return Column(name, kind, required, tuple(allowed) if allowed else None, bounds)


ORDERS = Source(
    event_time="ordered_at",
    name="orders",
    mandatory=True,
    description="One order line. Negative quantity = return; empty customer_id = guest.",
    columns=(
        _c("order_id", required=True),
        _c("customer_id", required=True),
        _c("ordered_at", TIMESTAMP, required=True),
        _c("product_id", required=True),
        _c("quantity", DECIMAL, required=True),
        _c("unit_price", DECIMAL, required=True),
        _c("line_number", INTEGER),
        _c("discount", DECIMAL),
        _c("unit_cost", DECIMAL),
        _c("currency"),
        _c("channel"),
        _c("status", allowed=("completed", "cancelled", "returned")),
        _c("shipping_cost", DECIMAL),
        _c("shipping_charged", DECIMAL),
        _c("contact_id"),  # who at a business account placed the order (contacts)
    ),
    key=("order_id", "line_number"),
    nullable_required=("customer_id",),
)

CUSTOMERS = Source(
    event_time="signed_up_at",
    name="customers",
    description="One customer.",
    columns=(
        _c("customer_id", required=True),
        _c("signed_up_at", TIMESTAMP, required=True),
        _c("customer_kind", allowed=("individual", "business")),
        _c("is_employee", BOOLEAN),
        _c("referred_by"),
        _c("acquisition_channel"),
        _c("acquisition_cost", DECIMAL),
        _c("region"),
        _c("email"),
        _c("name"),
        _c("phone"),
    ),
    key=("customer_id",),
)

CONTACTS = Source(
    event_time="created_at",
    name="contacts",
    description=(
        "One person at a customer account: who approves and pays, who uses, who only talks "
        "(SPEC §5.11 buying-centre roles)."
    ),
    columns=(
        _c("contact_id", required=True),
        _c("customer_id", required=True),  # the account the person belongs to
        _c("created_at", TIMESTAMP),  # when the contact was recorded (history: visible from)
        _c("title"),
        _c("department"),
        _c("is_decision_maker", BOOLEAN),  # approves orders and budgets
        _c("is_employee", BOOLEAN),  # one of our own people listed on the account
        _c("email"),
        _c("name"),
        _c("phone"),
    ),
    key=("contact_id",),
)

PRODUCTS = Source(
    name="products",
    description="One product. is_merchandise is false for postage, fees and adjustments.",
    columns=(
        _c("product_id", required=True),
        _c("category"),
        _c("unit_cost", DECIMAL),
        _c("is_merchandise", BOOLEAN),
    ),
    key=("product_id",),
)

TICKETS = Source(
    event_time="opened_at",
    name="tickets",
    description="One support interaction.",
    columns=(
        _c("ticket_id", required=True),
        _c("customer_id", required=True),
        _c("opened_at", TIMESTAMP, required=True),
        _c("closed_at", TIMESTAMP),
        _c("kind", allowed=("complaint", "question", "return_request", "other")),
        _c("severity", allowed=("low", "normal", "high")),
        _c("handling_minutes", DECIMAL),
        _c("contact_id"),  # who at a business account raised it (contacts)
    ),
    key=("ticket_id",),
)

SURVEYS = Source(
    event_time="responded_at",
    name="surveys",
    description="One survey response (NPS 0-10 and/or CSAT 1-5).",
    columns=(
        _c("response_id", required=True),
        _c("customer_id", required=True),
        _c("responded_at", TIMESTAMP, required=True),
        _c("nps_score", INTEGER, bounds=(0, 10)),
        _c("csat_score", INTEGER, bounds=(1, 5)),
        _c("comment"),
        _c("contact_id"),  # who at a business account answered (contacts)
    ),
    key=("response_id",),
    one_of=("nps_score", "csat_score"),
)

CUSTOMER_TAGS = Source(
    event_time="tagged_at",
    name="customer_tags",
    description="One personality tag given to a customer by a sales rep.",
    columns=(
        _c("customer_id", required=True),
        _c("tag", required=True),
        _c("tagged_at", TIMESTAMP, required=True),
        _c("tagged_by"),
    ),
    key=("customer_id", "tag", "tagged_at"),
)

# Ingestion order matters only for the referential check orders -> products.
SOURCES: dict[str, Source] = {
    s.name: s for s in (PRODUCTS, CUSTOMERS, CONTACTS, ORDERS, TICKETS, SURVEYS, CUSTOMER_TAGS)
}

# Raw files below ``<source>/history/`` are history (an imported export): loaded by every run,
# each row visible from its own event date (orchestration/ingest.py).
HISTORY_DIR = "history"

# Columns that never leave the working warehouse (SPEC §1, Privacy).
PII_COLUMNS = frozenset({"email", "name", "phone"})

# Machine-readable quarantine reasons, in the order rows are tested against them.
QUARANTINE_REASONS = (
    "malformed_line",  # the parser could not split the row into the file's columns
    "unmatched_key",  # a mapping's lookup finds no row of its file with the line's key
    "ambiguous_key",  # ... or finds different rows with that key
    "missing_key",  # a required identifier is empty
    "missing_value",  # another required value is empty
    "unparseable_date",
    "non_numeric_quantity",
    "non_numeric_value",
    "invalid_value",  # not in the allowed set or outside the bounds
    "future_date",  # dated after the end of the file's drop date
    "unknown_product",  # an order line for a product the catalogue does not have
    "duplicate_line",  # an exact copy of an earlier line of the same drop (the whole line)
    "duplicate_key",  # same key as an earlier row of the same drop, different content
)

# File formats ingestion accepts, by file-name ending.
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")
PARQUET_SUFFIXES = (".parquet",)
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz")
