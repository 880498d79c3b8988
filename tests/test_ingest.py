"""Ingestion: every row read ends staged or quarantined with a reason; loads are idempotent."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.ingest import classify
from orchestration.ingest.loader import Loader
from orchestration.ingest.readers import IngestError

ORDER_HEADER = "order_id,customer_id,ordered_at,product_id,quantity,unit_price,line_number"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        path.write_text(text)
    return path


def products(raw: Path, ids=("p1", "p2")) -> None:
    path = raw / "products" / "2025-01-01.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"product_id": list(ids), "unit_cost": [1.0] * len(ids)}), path)


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    products(tmp_path / "raw")
    return tmp_path / "raw"


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def load(con, raw: Path, source: str = "orders"):
    loader = Loader(con, raw)
    loader.load("products")
    return loader.load(source)


def quarantine(con) -> list[tuple]:
    return con.execute(
        "select row_number, reason, column_name from raw.quarantine order by row_number"
    ).fetchall()


@pytest.mark.parametrize(
    ("line", "reason", "column"),
    [
        ("o1,c1,2025-01-02 10:00:00,p1,2,3.50,1,extra", "malformed_line", "*"),
        (",c1,2025-01-02,p1,1,3.50,1", "missing_key", "order_id"),
        ("o1,c1,2025-01-02,,1,3.50,1", "missing_key", "product_id"),
        ("o1,c1,2025-01-02,p1,1,,1", "missing_value", "unit_price"),
        ("o1,c1,2025-13-45,p1,1,3.50,1", "unparseable_date", "ordered_at"),
        ("o1,c1,yesterday,p1,1,3.50,1", "unparseable_date", "ordered_at"),
        ("o1,c1,2025-01-02,p1,three,3.50,1", "non_numeric_quantity", "quantity"),
        ("o1,c1,2025-01-02,p1,1,cheap,1", "non_numeric_value", "unit_price"),
        ("o1,c1,2025-01-03 00:00:00,p1,1,3.50,1", "future_date", "ordered_at"),
        ("o1,c1,2025-01-02,p404,1,3.50,1", "unknown_product", "product_id"),
    ],
)
def test_each_defect_is_quarantined_with_its_reason(con, raw, line, reason, column):
    write(raw / "orders" / "2025-01-02.csv", f"{ORDER_HEADER}\n{line}\no9,c9,2025-01-02,p2,1,2,1\n")
    result = load(con, raw)
    assert quarantine(con) == [(2, reason, column)]
    assert (result.rows_read, result.rows_staged, result.rows_quarantined) == (2, 1, 1)
    assert con.execute("select order_id from raw.orders").fetchall() == [("o9",)]


CONTACT_HEADER = "contact_id,customer_id,created_at,is_decision_maker,email"


@pytest.mark.parametrize(
    ("line", "reason", "column"),
    [
        (",c1,2025-01-02 09:00:00,true,a@example.com", "missing_key", "contact_id"),
        ("k1,,2025-01-02 09:00:00,true,a@example.com", "missing_key", "customer_id"),
        ("k1,c1,2025-02-30 09:00:00,true,a@example.com", "unparseable_date", "created_at"),
        ("k1,c1,2025-01-02 09:00:00,maybe,a@example.com", "invalid_value", "is_decision_maker"),
        ("k1,c1,2025-01-03 09:00:00,true,a@example.com", "future_date", "created_at"),
    ],
)
def test_a_contacts_defect_is_quarantined_like_any_source(con, raw, line, reason, column):
    """contacts is a source of the contract like the others: its optional columns may be
    missing from a file (title, department, is_employee, name, phone here; created_at empty)."""
    write(raw / "contacts" / "2025-01-02.csv", f"{CONTACT_HEADER}\n{line}\nk9,c9,,FALSE,\n")
    result = load(con, raw, "contacts")
    assert quarantine(con) == [(2, reason, column)]
    staged = con.execute(
        "select contact_id, customer_id, is_decision_maker, title, _visible_from from raw.contacts"
    ).fetchall()
    assert [row[:4] for row in staged] == [("k9", "c9", False, None)]
    assert str(staged[0][4]) == "2025-01-02"  # a daily drop's rows: visible on the drop date
    assert (result.rows_read, result.rows_staged, result.rows_quarantined) == (2, 1, 1)


def test_orders_tickets_and_surveys_may_name_a_contact(con, raw):
    write(
        raw / "orders" / "2025-01-02.csv",
        f"{ORDER_HEADER},contact_id\no1,c1,2025-01-02,p1,1,3.50,1,k1\no2,c1,2025-01-02,p1,1,3,1,\n",
    )
    write(raw / "tickets" / "2025-01-02.csv", "ticket_id,customer_id,opened_at\nt1,c1,2025-01-02\n")
    load(con, raw)
    Loader(con, raw).load("tickets")
    assert con.execute("select order_id, contact_id from raw.orders order by 1").fetchall() == [
        ("o1", "k1"),
        ("o2", None),
    ]
    assert con.execute("select contact_id from raw.tickets").fetchall() == [(None,)]


def test_duplicates_exact_and_by_key(con, raw):
    lines = [
        "o1,c1,2025-01-02,p1,2,3.50,1",
        "o1,c1,2025-01-02,p1,2,3.50,1",  # exact copy: dropped once, counted
        "o1,c1,2025-01-02,p1,5,3.50,1",  # same order line, other content
        "o1,c1,2025-01-02,p1,2,3.50,2",
    ]
    write(raw / "orders" / "2025-01-02.csv", "\n".join([ORDER_HEADER, *lines]) + "\n")
    load(con, raw)
    assert quarantine(con) == [
        (3, "duplicate_line", "*"),
        (4, "duplicate_key", "order_id|line_number"),
    ]
    assert con.execute("select count(*) from raw.orders").fetchall() == [(2,)]


def test_guest_lines_are_staged_not_quarantined(con, raw):
    write(raw / "orders" / "2025-01-02.csv", f"{ORDER_HEADER}\no1,,2025-01-02,p1,1,3.50,1\n")
    load(con, raw)
    assert quarantine(con) == []
    assert con.execute("select customer_id from raw.orders").fetchall() == [(None,)]


def test_values_are_trimmed_of_unicode_spaces_and_blank_is_missing(con, raw):
    line = " o1 ,\u00a0c1\u3000,2025-01-02 , p1,\u20021 ,3.50,1\no2,\u00a0,2025-01-02,p1,1,2,1"
    write(raw / "orders" / "2025-01-02.csv", f"{ORDER_HEADER}\n{line}\n")
    load(con, raw)
    assert quarantine(con) == []
    assert con.execute(
        "select order_id, customer_id, product_id, quantity from raw.orders order by 1"
    ).fetchall() == [("o1", "c1", "p1", 1), ("o2", None, "p1", 1)]


@pytest.mark.parametrize(
    "value",
    [
        "abc", "", " ", "\u00a0", " a", "a ", "!a", "\ta\t", "a\u00a0", "\u3000a", "\u2009a\u2009",
        "é", "aéb", "a\u200b", "\u200ba", "a\n", "\x01a", " \u00a0 mixed\u2003 ", None,
    ],
)  # fmt: skip
def test_trimming_shortcut_equals_duckdb_trim(con, value):
    # ingestion trims only values that may need it; the result must be trim()'s exactly
    con.execute("create or replace temp table t as select ?::VARCHAR as v", [value])
    shortcut, reference = con.execute(
        f"select {classify._text('v')}, nullif(trim(v), '') from t"
    ).fetchall()[0]
    assert shortcut == reference


def test_row_numbers_are_file_lines_around_malformed_ones(con, raw):
    lines = [
        "o1,c1,2025-01-02,p1,1,1,1",
        "broken",
        "o2,c1,2025-01-02,p1,1,1,1",
        "bad,,",
        "o3,c1,x,p1,1,1,1",
    ]
    write(raw / "orders" / "2025-01-02.csv", "\n".join([ORDER_HEADER, *lines]) + "\n")
    load(con, raw)
    staged = con.execute("select order_id, _row_number from raw.orders order by 2").fetchall()
    assert staged == [("o1", 2), ("o2", 4)]
    assert quarantine(con) == [
        (3, "malformed_line", "*"),
        (5, "malformed_line", "*"),
        (6, "unparseable_date", "ordered_at"),
    ]


def test_reconciliation_per_file(con, raw):
    write(raw / "orders" / "2025-01-02.csv", f"{ORDER_HEADER}\no1,c1,2025-01-02,p1,1,1,1\nbroken\n")
    write(
        raw / "orders" / "date=2025-01-03" / "part-0.csv",
        f"{ORDER_HEADER}\no2,c1,2025-01-03,p1,1,1,1\n",
    )
    load(con, raw)
    rows = con.execute(
        """select file, rows_read, rows_staged, rows_quarantined from raw.reconciliation
           where source = 'orders' order by file"""
    ).fetchall()
    assert rows == [
        ("orders/2025-01-02.csv", 2, 1, 1),
        ("orders/date=2025-01-03/part-0.csv", 1, 1, 0),
    ]


def test_reingest_is_idempotent_and_skips_unchanged_drops(con, raw):
    write(raw / "orders" / "2025-01-02.csv", f"{ORDER_HEADER}\no1,c1,2025-01-02,p1,1,1,1\nbad\n")
    load(con, raw)
    again = Loader(con, raw).load("orders")
    assert again.drops_loaded == [] and again.drops_skipped == 1
    # Forget the fingerprints: a forced reload must still not duplicate anything.
    con.execute("delete from raw.loaded_drops")
    Loader(con, raw).load("orders")
    counts = con.execute(
        """select (select count(*) from raw.orders), (select count(*) from raw.quarantine),
                  (select count(*) from raw.reconciliation where source = 'orders')"""
    ).fetchall()
    assert counts == [(1, 1, 1)]


def test_corrected_file_replaces_the_rows_it_supersedes(con, raw):
    path = write(
        raw / "orders" / "2025-01-02.csv", f"{ORDER_HEADER}\no1,c1,2025-01-02,p1,1,9.99,1\n"
    )
    load(con, raw)
    write(path, f"{ORDER_HEADER}\no1,c1,2025-01-02,p1,1,1.99,1\no2,c1,2025-01-02,p1,1,1,1\n")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9, path.stat().st_mtime_ns + 10**9))
    result = Loader(con, raw).load("orders")
    assert result.drops_loaded and result.rows_read == 2
    prices = con.execute(
        "select order_id, unit_price::DOUBLE from raw.orders order by 1"
    ).fetchall()
    assert prices == [("o1", 1.99), ("o2", 1.0)]


def test_formats_gzip_semicolons_jsonl_and_parquet(con, raw):
    write(
        raw / "surveys" / "2025-01-02.csv.gz",
        "response_id;customer_id;responded_at;nps_score;csat_score\nr1;c1;2025-01-02;9;\n"
        "r2;c1;2025-01-02;;4\nr3;c1;2025-01-02;;\nr4;c1;2025-01-02;11;\n",
    )
    tickets = [
        {
            "ticket_id": "t1",
            "customer_id": "c1",
            "opened_at": "2025-01-02 09:00:00",
            "handling_minutes": 12,
        },
        "not json",
        {"ticket_id": "t2", "customer_id": "c1", "opened_at": "2025-01-02", "severity": "extreme"},
    ]
    write(
        raw / "tickets" / "2025-01-02.jsonl",
        "\n".join(t if isinstance(t, str) else json.dumps(t) for t in tickets) + "\n",
    )
    loader = Loader(con, raw)
    surveys = loader.load("surveys")
    assert (surveys.rows_staged, surveys.quarantine_by_reason) == (
        2,
        {"missing_value": 1, "invalid_value": 1},
    )
    tickets_load = loader.load("tickets")
    assert tickets_load.rows_staged == 1
    assert tickets_load.quarantine_by_reason == {"malformed_line": 1, "invalid_value": 1}
    assert con.execute("select handling_minutes::DOUBLE from raw.tickets").fetchall() == [(12.0,)]
    assert loader.load("products").rows_staged == 2


def test_missing_required_column_names_file_and_column(con, raw):
    path = write(
        raw / "orders" / "2025-01-02.csv", "order_id,customer_id,ordered_at,product_id,quantity\n"
    )
    with pytest.raises(IngestError) as error:
        load(con, raw)
    message = str(error.value)
    assert str(path) in message and "'unit_price'" in message
    assert con.execute("select count(*) from raw.orders").fetchall() == [(0,)]


def test_missing_column_leaves_earlier_loads_intact(con, raw):
    write(raw / "orders" / "2025-01-02.csv", f"{ORDER_HEADER}\no1,c1,2025-01-02,p1,1,1,1\n")
    load(con, raw)
    write(raw / "orders" / "2025-01-03.csv", "order_id,ordered_at\no2,2025-01-03\n")
    with pytest.raises(IngestError, match="required column 'customer_id'"):
        Loader(con, raw).load("orders")
    assert con.execute("select order_id from raw.orders").fetchall() == [("o1",)]


def test_unreadable_file_is_an_error(con, raw):
    (raw / "orders").mkdir(parents=True)
    (raw / "orders" / "2025-01-02.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(IngestError, match=r"2025-01-02\.parquet: unreadable"):
        load(con, raw)


def test_mandatory_orders_source_must_exist(con, raw):
    with pytest.raises(IngestError, match="no files for the mandatory source 'orders'"):
        load(con, raw)


def test_optional_source_may_be_absent(con, raw):
    result = Loader(con, raw).load("tickets")
    assert result.rows_read == 0


def test_drops_after_the_as_of_date_are_not_loaded(con, raw):
    import datetime as dt

    write(raw / "orders" / "2025-01-02.csv", f"{ORDER_HEADER}\no1,c1,2025-01-02,p1,1,1,1\n")
    write(raw / "orders" / "2025-01-05.csv", f"{ORDER_HEADER}\no2,c1,2025-01-05,p1,1,1,1\n")
    loader = Loader(con, raw)
    loader.load("products")
    result = loader.load("orders", up_to=dt.date(2025, 1, 2))
    assert result.drops_loaded == [dt.date(2025, 1, 2)]
    assert con.execute("select order_id from raw.orders").fetchall() == [("o1",)]


def test_file_without_a_date_is_an_error(con, raw):
    write(raw / "orders" / "latest.csv", f"{ORDER_HEADER}\n")
    with pytest.raises(IngestError, match="no drop date"):
        load(con, raw)
