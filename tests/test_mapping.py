"""Bring your own data: mapping files, presets, and their errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from orchestration import settings
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
    with pytest.raises(
        mapping.MappingError, match="invoice_lines, legacy_text, marketplace, order_level"
    ):
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


# ---------------------------------------------------------------------------------------------
# Header variants (item 3)

ONLINE_RETAIL_HEADER = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
)


def test_one_preset_reads_both_editions_of_an_export(tmp_path):
    lines = [
        "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,UK",
        "C536379,D,Discount,-1,2010-12-01 09:41:00,27.50,14527.0,UK",
    ]
    staged = []
    for edition, header in (("ii", INVOICE_HEADER), ("i", ONLINE_RETAIL_HEADER)):
        export = tmp_path / edition / "export.csv"
        export.parent.mkdir()
        export.write_text("\n".join([header, *lines]) + "\n")
        con, _ = ingest(tmp_path / edition, mapping.load("invoice_lines"), export)
        staged.append(
            con.execute(
                """select order_id, customer_id, product_id, quantity::INT, unit_price::DOUBLE,
                          status from raw.orders order by 1"""
            ).fetchall()
        )
    assert (
        staged[0]
        == staged[1]
        == [
            ("536365", "17850", "85123A", 6, 2.55, "completed"),
            ("C536379", "14527", "D", -1, 27.5, "cancelled"),
        ]
    )


def test_a_missing_column_error_lists_every_alternative_tried(tmp_path):
    export = tmp_path / "export.csv"
    export.write_text("InvoiceNo,StockCode,Quantity,InvoiceDate,Cost,CustomerID\n")
    with pytest.raises(mapping.IngestError) as error:
        imports.import_input(mapping.load("invoice_lines"), export, tmp_path / "raw")
    message = str(error.value)
    assert "column 'Price' or 'UnitPrice' or 'Unit Price' (mapped to unit_price) is missing" in (
        message
    )
    assert "found: invoiceno, stockcode, quantity, invoicedate, cost, customerid" in message


def test_alternatives_must_be_column_names(tmp_path):
    path = write_mapping(tmp_path, MINIMAL.replace("order_id: Bon", "order_id: [Bon, {a: 1}]"))
    with pytest.raises(mapping.MappingError, match="sources.orders.columns.order_id: expected a"):
        mapping.load(path)


# ---------------------------------------------------------------------------------------------
# Value recoding and failures that explain themselves (item 4)

STATUS_EXPORT = (
    "order,who,when,sku,qty,price,state\n"
    "o1,c1,2025-01-02,p1,1,10,delivered\n"
    "o2,c1,2025-01-02,p1,1,10,SHIPPED\n"
    "o3,c2,2025-01-02,p1,1,10,canceled\n"
    "o4,c2,2025-01-02,p1,1,10,on_hold\n"
    "o5,c3,2025-01-02,p1,1,10,\n"
)
STATUS_MAPPING = """
sources:
  orders:
    columns:
      order_id: order
      customer_id: who
      ordered_at: when
      product_id: sku
      quantity: qty
      unit_price: price
      status: state
"""


def test_values_are_recoded_with_a_default_for_the_rest(tmp_path):
    chosen = mapping.load(
        write_mapping(
            tmp_path,
            STATUS_MAPPING
            + """
    values:
      status:
        canceled: cancelled
        "delivered|shipped|invoiced": completed
        "*": completed
    defaults: {status: completed}
""",
        )
    )
    export = tmp_path / "export.csv"
    export.write_text(STATUS_EXPORT)
    con, result = ingest(tmp_path, chosen, export)
    assert result.rows_quarantined == 0
    statuses = con.execute("select order_id, status from raw.orders order by 1").fetchall()
    assert statuses == [
        ("o1", "completed"),
        ("o2", "completed"),
        ("o3", "cancelled"),
        ("o4", "completed"),  # the default for the rest
        ("o5", "completed"),  # empty: the mapping's default
    ]


def test_recoding_to_a_value_the_contract_does_not_allow_is_a_mapping_error(tmp_path):
    path = write_mapping(tmp_path, STATUS_MAPPING + "    values: {status: {delivered: complete}}\n")
    with pytest.raises(mapping.MappingError) as error:
        mapping.load(path)
    assert "sources.orders.values.status.delivered: 'complete' is not a value of status" in str(
        error.value
    )
    assert "completed, cancelled, returned" in str(error.value)


def test_a_source_without_valid_rows_says_why_with_counts_and_an_example(tmp_path):
    chosen = mapping.load(write_mapping(tmp_path, STATUS_MAPPING))
    export = tmp_path / "export.csv"
    export.write_text(STATUS_EXPORT.replace("\no5,c3,2025-01-02,p1,1,10,\n", "\n"))
    with pytest.raises(mapping.IngestError) as error:
        ingest(tmp_path, chosen, export)
    message = str(error.value)
    assert "the mandatory source 'orders' has no valid rows: all 4 rows read were quarantined" in (
        message
    )
    assert (
        "invalid_value: 4 rows, e.g. orders/history/2025-01-02/export.csv line 2, column status, "
        "value 'delivered' (allowed: completed, cancelled, returned; a mapping recodes other "
        "values with values.status)"
    ) in message


# ---------------------------------------------------------------------------------------------
# Multi-file (normalized) exports through lookups (item 2)

MARKETPLACE = Path(__file__).parent / "data" / "marketplace"


def test_marketplace_preset_builds_orders_and_surveys_from_several_files(tmp_path):
    chosen = mapping.load("marketplace")
    raw = tmp_path / "home" / "raw"
    imports.import_input(chosen, MARKETPLACE, raw)
    assert [p.name for p in imports.unmatched_inputs(chosen, MARKETPLACE)] == [
        "README.md",
        "olist_order_payments_dataset.csv",
    ]
    con = duckdb.connect()
    loader = Loader(con, raw, mapping=imports.active_mapping(raw.parent))
    loaded = {s: loader.load(s) for s in ("products", "orders", "surveys")}
    # reconciled on the user's rows of the primary file (the order items)
    assert con.execute(
        "select source, file, rows_read, rows_staged, rows_quarantined from raw.reconciliation"
        " order by source"
    ).fetchall() == [
        ("orders", "orders/history/2018-03-03/olist_order_items_dataset.csv", 9, 7, 2),
        ("products", "products/history/2018-03-10/olist_products_dataset.csv", 3, 3, 0),
        ("surveys", "surveys/history/2018-03-10/olist_order_reviews_dataset.csv", 4, 3, 1),
    ]
    lines = con.execute(
        """select order_id, line_number, customer_id, ordered_at::VARCHAR, status,
                  unit_price::DOUBLE from raw.orders order by 1, 2"""
    ).fetchall()
    assert lines == [
        ("o1", 1, "u1", "2018-01-05 10:00:00", "completed", 29.9),
        ("o1", 2, "u1", "2018-01-05 10:00:00", "completed", 15.0),
        ("o2", 1, "u1", "2018-02-10 12:00:00", "completed", 29.9),  # another key, same person
        ("o3", 1, "u2", "2018-02-11 09:00:00", "cancelled", 99.0),
        ("o4", 1, "u3", "2018-03-01 08:30:00", "completed", 15.0),
        ("o4", 2, "u3", "2018-03-01 08:30:00", "completed", 15.0),
        ("o6", 1, "u3", "2018-03-03 16:00:00", "cancelled", 99.0),  # unavailable
    ]
    quarantined = con.execute(
        """select source, row_number, reason, column_name, record::JSON->>'lookup_key'
           from raw.quarantine order by source, row_number"""
    ).fetchall()
    by_customer = "order.customer_id -> olist_customers_dataset.csv:customer_id"
    by_order = "order_id -> olist_orders_dataset.csv:order_id"
    assert quarantined == [
        ("orders", 8, "unmatched_key", by_customer, "k9"),  # its order's customer is unknown
        ("orders", 9, "unmatched_key", by_order, "o7"),  # its order is unknown
        ("surveys", 5, "unmatched_key", by_order, "o9"),
    ]
    surveys = con.execute(
        "select response_id, customer_id, csat_score, responded_at::DATE::VARCHAR from raw.surveys"
        " order by 1"
    ).fetchall()
    assert surveys == [
        ("r1", "u1", 5, "2018-01-13"),
        ("r2", "u1", 4, "2018-02-21"),
        ("r3", "u2", 1, "2018-03-02"),
    ]
    assert loaded["surveys"].quarantine_by_reason == {"unmatched_key": 1}
    categories = con.execute("select product_id, category from raw.products order by 1").fetchall()
    assert categories[0] == ("p1", "cama_mesa_banho")


def copy_marketplace(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for path in MARKETPLACE.glob("*.csv"):
        (folder / path.name).write_text(path.read_text())
    return folder


def test_a_key_two_lookup_rows_disagree_on_is_ambiguous_and_exact_copies_count_once(tmp_path):
    folder = copy_marketplace(tmp_path / "in")
    customers = folder / "olist_customers_dataset.csv"
    customers.write_text(
        customers.read_text()
        + "k1,u1,01001,sao paulo,SP\n"  # an exact copy: harmless
        + "k4,u9,30110,belo horizonte,MG\n"  # k4 is u3 and u9: which?
    )
    chosen = mapping.load("marketplace")
    con, result = ingest(tmp_path, chosen, folder)
    assert result.quarantine_by_reason == {"unmatched_key": 2, "ambiguous_key": 2}
    ambiguous = con.execute(
        """select row_number, column_name from raw.quarantine where reason = 'ambiguous_key'
           order by 1"""
    ).fetchall()
    where = "order.customer_id -> olist_customers_dataset.csv:customer_id"
    assert ambiguous == [(6, where), (7, where)]  # o4's two lines
    assert con.execute("select count(*) from raw.orders where customer_id = 'u1'").fetchall() == [
        (3,)
    ]


def test_a_corrected_lookup_file_reloads_its_drop(tmp_path):
    folder = copy_marketplace(tmp_path / "in")
    chosen = mapping.load("marketplace")
    raw = tmp_path / "home" / "raw"
    imports.import_input(chosen, folder, raw)
    con = duckdb.connect()
    Loader(con, raw, mapping=imports.active_mapping(raw.parent)).load("orders")
    # the missing customer arrives: importing the corrected export again reloads the drop
    customers = folder / "olist_customers_dataset.csv"
    customers.write_text(customers.read_text() + "k9,u4,04001,sao paulo,SP\n")
    imports.import_input(chosen, folder, raw)
    again = Loader(con, raw, mapping=imports.active_mapping(raw.parent)).load("orders")
    assert again.drops_loaded and again.quarantine_by_reason == {"unmatched_key": 1}
    assert con.execute("select count(*) from raw.orders where customer_id = 'u4'").fetchall() == [
        (1,)
    ]


LOOKUP_MAPPING = """
sources:
  orders:
    files: "items*"
    lookups:
      head:
        files: "heads*"
        key: [id, order_ref]
        by: order
    columns:
      order_id: order
      customer_id: head.who
      ordered_at: head.when
      product_id: sku
      quantity: qty
      unit_price: price
"""


HEAD = "sources.orders.lookups.head"


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ("by: order", "on: order", f"{HEAD}.on", "write 'by'"),
        ("        key: [id, order_ref]\n", "", HEAD, "'key' is required"),
        ("by: order", "by: head.id", f"{HEAD}.by", "earlier lookup"),
        ("head:", "head-line:", f"{HEAD}-line", "a lookup name is a word"),
        ("by: order\n", "by: order\n        join: left\n", f"{HEAD}.join", "unknown key"),
    ],
)
def test_invalid_lookups_name_the_file_and_key(tmp_path, old, new, key, problem):
    path = write_mapping(tmp_path, LOOKUP_MAPPING.replace(old, new))
    with pytest.raises(mapping.MappingError) as error:
        mapping.load(path)
    assert f": {key}: " in str(error.value) and problem in str(error.value)


def test_lookup_files_and_columns_that_are_missing_are_named(tmp_path):
    chosen = mapping.load(write_mapping(tmp_path, LOOKUP_MAPPING))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "items.csv").write_text("order,sku,qty,price\no1,p1,1,5\n")
    with pytest.raises(mapping.IngestError, match="lookup 'head' finds no file.*'heads\\*'"):
        imports.import_input(chosen, folder, tmp_path / "raw")
    (folder / "heads.csv").write_text("key,who,when\no1,c1,2025-01-01\n")
    with pytest.raises(mapping.IngestError, match="key column 'id' or 'order_ref' is missing"):
        imports.import_input(chosen, folder, tmp_path / "raw")
    (folder / "heads.csv").write_text("order_ref,who,date\no1,c1,2025-01-01\n")
    with pytest.raises(mapping.IngestError) as error:
        imports.import_input(chosen, folder, tmp_path / "raw")
    assert "column 'head.when' (mapped to ordered_at) is missing" in str(error.value)
    assert "lookup head: order_ref, who, date" in str(error.value)


# ---------------------------------------------------------------------------------------------
# clientele mapping check / suggest (item 5)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    from orchestration.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_mapping_check_is_a_dry_run_of_the_whole_input(tmp_path, capsys):
    folder = copy_marketplace(tmp_path / "in")
    before = sorted(p.name for p in folder.iterdir())
    code, out, _ = run_cli(
        capsys, "mapping", "check", "--mapping", "marketplace", "--input", str(folder)
    )
    assert code == 0
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written beside the input
    orders = out.split("\norders <- olist_order_items_dataset.csv\n")[1].split("\n\n")[0]
    assert "customer_id      <- customer.customer_unique_id" in orders
    assert "input columns not used: seller_id, shipping_limit_date, freight_value" in orders
    assert "first 5 rows of olist_order_items_dataset.csv as mapped:" in orders
    assert "    2     o1        u1           2018-01-05 10:00:00  p1" in orders
    assert "rows read 9: would stage 7, quarantine 2" in orders
    assert (
        "- unmatched_key: 2 rows, e.g. orders/history/2018-03-03/olist_order_items_dataset.csv "
        "line 8, column order.customer_id -> olist_customers_dataset.csv:customer_id, value 'k9'"
    ) in orders
    assert "ordered_at from 2018-01-05 to 2018-03-03" in orders
    assert "drops: 2018-03-03 (history: rows visible from their own dates)" in orders
    assert "input files no source reads (not imported): olist_order_payments_dataset.csv" in out
    assert out.rstrip().endswith("OK: a run with this mapping would load")


def test_mapping_check_fails_on_an_invalid_mapping_or_a_run_that_would_fail(tmp_path, capsys):
    export = tmp_path / "export.csv"
    export.write_text(STATUS_EXPORT)
    bad = write_mapping(tmp_path, STATUS_MAPPING.replace("status: state", "state: status"))
    code, _, err = run_cli(
        capsys, "mapping", "check", "--mapping", str(bad), "--input", str(export)
    )
    assert code == 2 and "sources.orders.columns.state: not a column of the orders contract" in err
    rejected = write_mapping(tmp_path, STATUS_MAPPING)
    export.write_text(STATUS_EXPORT.replace("\no5,c3,2025-01-02,p1,1,10,\n", "\n"))
    code, out, _ = run_cli(
        capsys, "mapping", "check", "--mapping", str(rejected), "--input", str(export)
    )
    assert code == 1
    assert "has no valid rows: all 4 rows read were quarantined" in out
    assert "invalid_value: 4 rows" in out and out.rstrip().endswith("a run would FAIL")


def test_mapping_suggest_knows_every_source_of_the_contract():
    """A source added to the contract needs its header synonyms, or suggest fails on any file."""
    from orchestration.ingest.contract import SOURCES
    from orchestration.ingest.suggest import SYNONYMS

    assert set(SYNONYMS) == set(SOURCES)
    for name, synonyms in SYNONYMS.items():
        assert set(synonyms) <= set(SOURCES[name].column_names), name
        assert set(SOURCES[name].required_columns) <= set(synonyms), name


def test_mapping_suggest_proposes_a_mapping_that_loads_after_the_user_checks_it(tmp_path, capsys):
    export = tmp_path / "ventes.csv"
    export.write_text(
        "InvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;CustomerID;Country\n"
        "536365;85123A;HEART;6;13.12.2010 08:26;2,55;17850.0;France\n"
        "C536379;D;Discount;-1;14.12.2010 09:41;1.027,50;14527.0;France\n"
        "536380;22139;TEA SET;2;14.12.2010 10:00;4,95;;France\n"
    )
    proposal = tmp_path / "proposal.yaml"
    code, out, _ = run_cli(
        capsys, "mapping", "suggest", "--input", str(export), "--output", str(proposal)
    )
    assert code == 0 and str(proposal) in out
    text = proposal.read_text()
    assert "order_id: invoiceno  # header 'invoiceno'; ids starting with 'C' look like" in text
    assert "ordered_at: '%d.%m.%Y %H:%M'" in text
    assert "decimal: ','" in text and "thousands: ." in text
    assert "integer_ids: [customer_id]" in text and "cancelled_order_prefix: C" in text
    assert "# not used: description, country" in text
    code, out, _ = run_cli(
        capsys, "mapping", "check", "--mapping", str(proposal), "--input", str(export)
    )
    assert code == 0 and "rows read 3: would stage 3, quarantine 0" in out
    con, _ = ingest(tmp_path, mapping.load(proposal), export)
    assert con.execute(
        "select order_id, customer_id, unit_price::DOUBLE, status from raw.orders order by 1"
    ).fetchall() == [
        ("536365", "17850", 2.55, None),
        ("536380", None, 4.95, None),
        ("C536379", "14527", 1027.5, "cancelled"),
    ]


def test_mapping_suggest_names_the_preset_that_fits_and_leaves_unknown_columns_to_the_user(
    tmp_path, capsys
):
    code, out, _ = run_cli(capsys, "mapping", "suggest", "--input", str(MARKETPLACE))
    assert code == 0
    assert (
        "# The preset marketplace knows these headers: try it first, clientele mapping check" in out
    )
    assert "      # customer_id: ?   # REQUIRED: no header recognised; write yours" in out
    export = tmp_path / "orders.csv"
    export.write_text("OrderID,OrderDate,CustomerID,Total\n1,2025-01-01,c1,19.99\n")
    code, out, _ = run_cli(capsys, "mapping", "suggest", "--input", str(export))
    assert "The preset order_level knows these headers" in out
    assert "unit_price: total  # header 'total': the order total as one line" in out


def test_the_marketplace_export_runs_end_to_end(tmp_path, capsys, monkeypatch):
    """Order lines, orders, customers and reviews of the synthetic marketplace export become
    customers with revenue, cancellations and a CSAT answer found through their orders."""
    monkeypatch.setenv(settings.HOME_ENV, str(tmp_path))  # restored for the tests after this
    code, out, _ = run_cli(
        capsys,
        "run",
        "--home",
        str(tmp_path),
        "--mapping",
        "marketplace",
        "--input",
        str(MARKETPLACE),
    )
    assert code == 0, out
    assert "olist_order_payments_dataset.csv matches no source of the mapping" in out
    con = duckdb.connect(str(tmp_path / "warehouse" / "clientele.duckdb"), read_only=True)
    facts = con.execute(
        """select customer_id, occasions, revenue::DOUBLE, cancellations_count, csat_avg_12m,
                  responses_12m from main.customer_facts order by 1"""
    ).fetchall()
    satisfaction = con.execute(
        "select customer_id, satisfaction from main.customer_segments order by 1"
    ).fetchall()
    con.close()
    assert facts == [
        ("u1", 2, 74.8, 0, 4.5, 2),  # two orders under two per-order keys, two reviews
        ("u2", 0, 0.0, 1, 1.0, 1),  # a cancelled order and an angry review
        ("u3", 1, 30.0, 1, None, 0),  # o4's two items; o6 unavailable = cancelled
    ]
    assert satisfaction == [("u1", "satisfied"), ("u2", "angry"), ("u3", "unknown")]


def test_an_export_whose_dates_do_not_parse_says_which_value_and_what_to_set(tmp_path, capsys):
    export = tmp_path / "export.csv"
    export.write_text(f"{INVOICE_HEADER}\n536365,85123A,HEART,6,13/12/2010 08:26,2.55,17850,UK\n")
    code, out, _ = run_cli(
        capsys, "mapping", "check", "--mapping", "invoice_lines", "--input", str(export)
    )
    assert code == 1
    assert (
        "no parseable ordered_at to date the drop by (e.g. line 2: '13/12/2010 08:26'; a mapping "
        "reads other formats with date_formats.ordered_at)"
    ) in out
