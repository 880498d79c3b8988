"""Bring your own data: mapping files, presets, and their errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest import imports, mapping
from orchestration.ingest.loader import Loader


def write_mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


def ingest(tmp_path: Path, chosen: mapping.Mapping, input_path: Path):
    raw = tmp_path / "home" / "raw"
    imports.import_input(chosen, input_path, raw)
    con = duckdb.connect()
    loader = Loader(con, raw, mapping=imports.active_mapping(raw.parent))
    loader.load("products")
    result = loader.load("orders")
    return con, result


MINIMAL = """
sources:
  orders:
    columns:
      order_id: Bon
      customer_id: Kunde
      ordered_at: Datum
      product_id: Artikel
      quantity: Menge
      unit_price: Preis
"""


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("sources: {}\n", "sources", "at least one contract source"),
        ("colums: 1\n" + MINIMAL, "colums", "unknown key"),
        (MINIMAL.replace("orders:", "ordres:"), "sources.ordres", "not a contract source"),
        (MINIMAL + "    colour: red\n", "sources.orders.colour", "unknown key"),
        (
            MINIMAL.replace("order_id: Bon", "order_nr: Bon"),
            "sources.orders.columns.order_nr",
            "not a column of the orders contract",
        ),
        (
            MINIMAL.replace("      unit_price: Preis\n", ""),
            "sources.orders.columns",
            "'unit_price' is not mapped",
        ),
        (MINIMAL + "    format: xlsx\n", "sources.orders.format", "unknown format"),
        (
            MINIMAL + "    rules: {non_merchandise_pattern: '('}\n",
            "sources.orders.rules.non_merchandise_pattern",
            "bad regular expression",
        ),
        (MINIMAL + "    rules: {cancel_if: C}\n", "sources.orders.rules.cancel_if", "unknown rule"),
        (
            MINIMAL + "    date_formats: {quantity: '%d'}\n",
            "sources.orders.date_formats.quantity",
            "not a date column",
        ),
        ("sources: [\n", "", "not valid YAML"),
    ],
)
def test_invalid_mapping_names_the_file_and_key(tmp_path, text, key, problem):
    path = write_mapping(tmp_path, text)
    with pytest.raises(mapping.MappingError) as error:
        mapping.load(path)
    assert str(path) in str(error.value)
    assert f": {key}: " in str(error.value) or key == ""
    assert problem in str(error.value)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(mapping.MappingError, match="invoice_lines, legacy_text, order_level"):
        mapping.load("no_such_preset")


def test_renames_dates_decimals_encoding_constants_defaults_and_rules(tmp_path):
    chosen = mapping.load(
        write_mapping(
            tmp_path,
            MINIMAL
            + """
    encoding: latin-1
    decimal: ","
    thousands: "."
    date_formats: {ordered_at: "%d.%m.%Y %H:%M"}
    constants: {currency: EUR}
    defaults: {channel: store}
    rules:
      cancelled_order_prefix: "S"
      integer_ids: [customer_id]
      non_merchandise_products: [PORTO]
""",
        ),
    )
    export = tmp_path / "export_2025-03-02.csv"
    export.write_bytes(
        "Bon;Kunde;Datum;Artikel;Menge;Preis;Bemerkung\n"
        "B1;101.0;01.03.2025 10:15;KÄSE;2;1.234,50;schön\n"
        "S2;102;01.03.2025 11:00;KÄSE;1;3,00;storno\n"
        "B3;;02.03.2025 09:00;PORTO;1;4,95;\n"
        "B4;103;32.03.2025 09:00;KÄSE;1;1,00;\n".encode("latin-1")
    )
    con, result = ingest(tmp_path, chosen, export)
    rows = con.execute(
        """select order_id, customer_id, ordered_at::VARCHAR, product_id, quantity::DOUBLE,
                  unit_price::DOUBLE, status, currency, channel
           from raw.orders order by order_id"""
    ).fetchall()
    assert rows == [
        ("B1", "101", "2025-03-01 10:15:00", "KÄSE", 2.0, 1234.5, None, "EUR", "store"),
        ("B3", None, "2025-03-02 09:00:00", "PORTO", 1.0, 4.95, None, "EUR", "store"),
        ("S2", "102", "2025-03-01 11:00:00", "KÄSE", 1.0, 3.0, "cancelled", "EUR", "store"),
    ]
    # The unparseable date keeps its text and is quarantined at its line in the user's file.
    assert con.execute("select row_number, reason, file from raw.quarantine").fetchall() == [
        (5, "unparseable_date", "orders/2025-03-02/export_2025-03-02.csv")
    ]
    assert result.rows_read == 4
    products = dict(con.execute("select product_id, is_merchandise from raw.products").fetchall())
    assert products == {"KÄSE": True, "PORTO": False}


def test_several_files_per_source_and_templates(tmp_path):
    chosen = mapping.load(
        write_mapping(
            tmp_path,
            """
sources:
  orders:
    files: "sales_*.csv"
    columns: {customer_id: who, ordered_at: day, unit_price: amount}
    templates: {order_id: "{who}/{day}"}
    constants: {product_id: X, quantity: "1"}
""",
        )
    )
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "sales_2025-01-01.csv").write_text("who,day,amount\na,2025-01-01,5\n")
    (folder / "sales_2025-01-02.csv").write_text("who,day,amount\nb,2025-01-02,7\n")
    (folder / "notes.csv").write_text("not,an,export\n")
    con, result = ingest(tmp_path, chosen, folder)
    assert sorted(result.drops_loaded) == [
        dt.date(2025, 1, 1),
        dt.date(2025, 1, 2),
    ]
    orders = con.execute("select order_id from raw.orders order by 1").fetchall()
    assert orders == [("a/2025-01-01",), ("b/2025-01-02",)]


def test_missing_input_column_names_the_file_and_the_mapping(tmp_path):
    chosen = mapping.load("order_level")
    export = tmp_path / "orders.csv"
    export.write_text("order_id,order_date,customer\n1,2025-01-01,c1\n")
    with pytest.raises(mapping.IngestError, match=r"orders.csv: column 'customer_id'"):
        imports.import_input(chosen, export, tmp_path / "raw")


def test_order_level_preset(tmp_path):
    export = tmp_path / "orders.csv"
    export.write_text(
        "order_id,order_date,customer_id,total\n1,2025-01-01,c1,19.99\n2,2025-01-03,,5.00\n"
    )
    con, _ = ingest(tmp_path, mapping.load("order_level"), export)
    rows = con.execute(
        "select order_id, customer_id, quantity::INT, unit_price::DOUBLE from raw.orders order by 1"
    ).fetchall()
    assert rows == [("1", "c1", 1, 19.99), ("2", None, 1, 5.0)]


def test_legacy_whitespace_preset(tmp_path):
    export = tmp_path / "LEGACY.TXT"
    export.write_text(
        "customer   date         units   amount\n"
        "C001       2024-05-01       3    29.97\n"
        "C002       2024-05-02       1     9.99\n"
        "C003       2024-05-02   broken\n"
    )
    con, result = ingest(tmp_path, mapping.load("legacy_text"), export)
    rows = con.execute(
        "select order_id, customer_id, unit_price::DOUBLE from raw.orders order by 1"
    ).fetchall()
    assert rows == [("C001-2024-05-01-2", "C001", 29.97), ("C002-2024-05-02-3", "C002", 9.99)]
    assert result.quarantine_by_reason == {"malformed_line": 1}


# ---------------------------------------------------------------------------------------------
# Exact duplicates: the whole line as the user's file has it (issue #20, item 1)

INVOICE_HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"


def test_lines_that_differ_only_in_an_unmapped_column_are_both_staged(tmp_path):
    # Two lines of one invoice with the same stock code, quantity, price, time and customer but
    # different descriptions (as in a real export) are two lines; an exact copy is a duplicate.
    export = tmp_path / "export.csv"
    export.write_text(
        "\n".join(
            [
                INVOICE_HEADER,
                "536400,22139,RETRO SPOT TEA SET,1,2010-12-01 10:00:00,537.00,17850.0,UK",
                "536400,22139,RETRO SPOT TEA SET CERAMIC,1,2010-12-01 10:00:00,537.00,17850.0,UK",
                "536400,22139,RETRO SPOT TEA SET,1,2010-12-01 10:00:00,537.00,17850.0,UK",
                "536401,85123A,HEART T-LIGHT HOLDER,6,2010-12-01 11:00:00,2.55,,UK",
            ]
        )
        + "\n"
    )
    con, result = ingest(tmp_path, mapping.load("invoice_lines"), export)
    staged = con.execute(
        "select _row_number, unit_price::DOUBLE from raw.orders order by 1"
    ).fetchall()
    assert staged == [(2, 537.0), (3, 537.0), (5, 2.55)]
    quarantined = con.execute(
        "select row_number, reason, column_name, record from raw.quarantine"
    ).fetchall()
    assert [q[:3] for q in quarantined] == [(4, "duplicate_line", "*")]
    # the quarantined record shows the user's whole line beside its contract values
    record = json.loads(quarantined[0][3])
    assert record["line"]["description"] == "RETRO SPOT TEA SET"
    assert record["order_id"] == "536400"
    assert (result.rows_read, result.rows_staged, result.rows_quarantined) == (4, 3, 1)
    revenue = con.execute(
        "select sum(quantity * unit_price)::DOUBLE from raw.orders where customer_id = '17850'"
    ).fetchall()
    assert revenue == [(1074.0,)]


def test_exact_duplicates_across_files_of_a_drop_whatever_their_column_order(tmp_path):
    chosen = mapping.load("invoice_lines")
    folder = tmp_path / "in"
    folder.mkdir()
    line = "C536402,22139,TEA SET,-1,2010-12-02 10:00:00,4.95,17850,UK"
    (folder / "part-a_2010-12-02.csv").write_text(f"{INVOICE_HEADER}\n{line}\n")
    fields = dict(zip(INVOICE_HEADER.split(","), line.split(","), strict=True))
    reordered = sorted(fields)
    (folder / "part-b_2010-12-02.csv").write_text(
        ",".join(reordered) + "\n" + ",".join(fields[c] for c in reordered) + "\n"
    )
    con, _ = ingest(tmp_path, chosen, folder)
    quarantined = "select file, reason from raw.quarantine where source = 'orders'"
    assert con.execute(quarantined).fetchall() == [
        ("orders/2010-12-02/part-b_2010-12-02.csv", "duplicate_line")
    ]
    assert con.execute("select status from raw.orders").fetchall() == [("cancelled",)]
