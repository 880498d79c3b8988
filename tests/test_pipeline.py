"""The whole nightly run on dirty generated data: nothing lost, point-in-time correct."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from orchestration.defs.transform import FACTS_SELECTION
from tests.conftest import AS_OF, run_dbt


def data_rows(path: Path) -> int:
    """Rows in a raw file as a person counts them: lines after the header, or Parquet rows."""
    if path.name.endswith(".parquet"):
        return pq.ParquetFile(path).metadata.num_rows
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        lines = sum(1 for line in handle if line.strip())
    return lines if path.name.endswith((".jsonl", ".jsonl.gz")) else lines - 1


def test_every_injected_defect_is_quarantined_with_its_reason(pipeline, warehouse):
    truth = pd.read_csv(pipeline.truth / "dirt.csv")
    expected = truth.groupby(["source", "file", "reason"])["rows"].sum().sort_index()
    found = (
        warehouse.execute(
            "select source, file, reason, count(*) as rows from raw.quarantine group by all"
        )
        .df()
        .set_index(["source", "file", "reason"])["rows"]
        .sort_index()
    )
    assert len(expected) > 10
    pd.testing.assert_series_equal(found, expected, check_dtype=False, check_names=False)


def test_rows_read_equal_rows_in_the_files_and_reconcile(pipeline, warehouse):
    files = {
        str(path.relative_to(pipeline.raw)): data_rows(path)
        for path in pipeline.raw.rglob("*")
        if path.is_file() and not path.relative_to(pipeline.raw).parts[0].startswith("_")
    }
    recorded = dict(warehouse.execute("select file, rows_read from raw.reconciliation").fetchall())
    assert recorded == files
    unbalanced = warehouse.execute(
        "select count(*) from raw.reconciliation where rows_read != rows_staged + rows_quarantined"
    ).fetchall()
    assert unbalanced == [(0,)]


def test_events_after_the_as_of_date_change_nothing(pipeline, warehouse, tmp_path):
    """Copy the warehouse, add orders, tickets, surveys and customers dated after D and a late
    drop (orders dated before D, delivered after it), rebuild the facts for D: every fact is
    unchanged, as the night of D saw it."""
    before = warehouse.execute("select * from main.customer_facts order by customer_id").df()
    home = tmp_path / "home"
    (home / "warehouse").mkdir(parents=True)
    shutil.copy(pipeline.warehouse, home / "warehouse" / "clientele.duckdb")
    con = duckdb.connect(str(home / "warehouse" / "clientele.duckdb"))
    shifted = {"orders": "ordered_at", "tickets": "opened_at", "surveys": "responded_at"}
    for table, column in shifted.items():
        con.execute(
            f"""insert into raw.{table}
                select * replace ({column} + interval 20 day as {column},
                                  _drop_date + interval 20 day as _drop_date,
                                  _visible_from + interval 20 day as _visible_from,
                                  'later/' || _file as _file)
                from raw.{table} where {column} > date '{AS_OF}' - interval 19 day"""
        )
    # A drop that arrives after D with orders dated before D: not known on the night of D.
    con.execute(
        f"""insert into raw.orders
            select * replace (order_id || '-late' as order_id,
                              date '{AS_OF}' + interval 2 day as _drop_date,
                              date '{AS_OF}' + interval 2 day as _visible_from,
                              'late/' || _file as _file)
            from raw.orders where ordered_at between date '{AS_OF}' - interval 30 day
                                                 and date '{AS_OF}'"""
    )
    # New customers signing up after D, and a later drop re-delivering existing customers with
    # other attributes.
    con.execute(
        f"""insert into raw.customers
            select * replace (customer_id || '-later' as customer_id,
                              date '{AS_OF}' + interval 3 day as signed_up_at,
                              date '{AS_OF}' + interval 3 day as _drop_date,
                              date '{AS_OF}' + interval 3 day as _visible_from,
                              'later/' || _file as _file)
            from raw.customers using sample 20 rows"""
    )
    con.execute(
        f"""insert into raw.customers
            select * replace ('business' as customer_kind, 'elsewhere' as region,
                              date '{AS_OF}' + interval 5 day as _drop_date,
                              date '{AS_OF}' + interval 5 day as _visible_from,
                              'redelivered/' || _file as _file)
            from raw.customers where _drop_date <= date '{AS_OF}' using sample 20 rows"""
    )
    late = con.execute(
        f"select count(*) from raw.orders where ordered_at > date '{AS_OF}' + interval 1 day"
    ).fetchall()
    assert late[0][0] > 0
    con.close()
    run_dbt(
        home,
        "build",
        "--select",
        *FACTS_SELECTION.split(),
        variables={"as_of": AS_OF.isoformat()},
        target=tmp_path / "target",
    )
    con = duckdb.connect(str(home / "warehouse" / "clientele.duckdb"), read_only=True)
    after = con.execute("select * from main.customer_facts order by customer_id").df()
    con.close()
    pd.testing.assert_frame_equal(before, after)
