"""``clientele run`` from a shell: non-zero exit and a clear message when input is bad."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

CLI = str(Path(sys.executable).parent / "clientele")


def test_run_fails_naming_the_file_and_column_and_builds_nothing(tmp_path):
    orders = tmp_path / "raw" / "orders"
    orders.mkdir(parents=True)
    bad = orders / "2025-03-01.csv"
    bad.write_text("order_id,customer_id,ordered_at,product_id,quantity\no1,c1,2025-03-01,p1,1\n")
    result = subprocess.run(
        [CLI, "run", "--home", str(tmp_path), "--as-of", "2025-03-01"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert str(bad) in result.stderr and "'unit_price'" in result.stderr
    con = duckdb.connect(str(tmp_path / "warehouse" / "clientele.duckdb"), read_only=True)
    rows = con.execute("select table_name from information_schema.tables").fetchall()  # and views
    tables = {row[0] for row in rows}
    con.close()
    assert "customer_facts" not in tables
