"""The lake: what Spark reads is exactly the warehouse's source tables, replaced whole; what it
built comes back into the warehouse under the same names (orchestration/lake.py). Runs without
Spark: the exchange is Parquet files either way."""

from __future__ import annotations

import duckdb
import pytest

from orchestration import lake, settings


def make_warehouse(paths: settings.Paths) -> None:
    paths.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("create schema raw; create schema model")
        con.execute(
            "create table raw.orders as select range as id, range * 1.5 as amount from range(5)"
        )
        con.execute("create table model.customer_clv as select 'c1' as customer_id, 12.34 as clv")
        con.execute("create table main.not_a_source as select 1 as x")


def test_the_sources_are_written_whole_and_named_for_dbt(tmp_path, monkeypatch):
    paths = settings.Paths(tmp_path)
    make_warehouse(paths)
    monkeypatch.delenv(lake.LAKE_TABLES_ENV, raising=False)
    stale = lake.partial_path(paths.lake / "raw" / "orders")  # a killed writer's leftover
    stale.mkdir(parents=True)
    (paths.lake / "raw" / "orders").mkdir()
    (paths.lake / "raw" / "orders" / "old.parquet").write_bytes(b"from an earlier night")

    written = lake.write_sources(paths)

    assert written == ["model.customer_clv", "raw.orders"]  # main is no source schema
    assert lake.os.environ[lake.LAKE_TABLES_ENV] == "model.customer_clv,raw.orders"
    assert sorted(p.name for p in (paths.lake / "raw").iterdir()) == ["orders"]
    assert [p.name for p in (paths.lake / "raw" / "orders").iterdir()] == ["part-0.parquet"]
    with duckdb.connect() as con:
        rows = con.sql(f"select * from '{paths.lake}/raw/orders/*.parquet' order by id").fetchall()
    assert rows == [(i, i * 1.5) for i in range(5)]


def test_a_failed_write_leaves_the_previous_folder(tmp_path):
    folder = tmp_path / "raw" / "orders"
    folder.mkdir(parents=True)
    (folder / "part-0.parquet").write_text("previous")
    with pytest.raises(OSError), lake.replacing(folder) as partial:
        (partial / "part-0.parquet").write_text("half")
        raise OSError("disk full")
    assert (folder / "part-0.parquet").read_text() == "previous"
    assert [p.name for p in folder.parent.iterdir()] == ["orders"]


def test_what_spark_built_replaces_the_warehouse_relation_of_the_same_name(tmp_path):
    paths = settings.Paths(tmp_path)
    make_warehouse(paths)
    with duckdb.connect(str(paths.warehouse)) as con:  # DuckDB had built it as a view
        con.execute("create view main.customer_facts as select 0 as customer_id")
    built = lake.spark_table_dir(paths, "main", "customer_facts")
    built.mkdir(parents=True)
    with duckdb.connect() as con:
        con.execute(
            f"copy (select 'c' || range as customer_id, range * 0.01 as revenue from range(3)) "
            f"to '{built}/part-00000-x.snappy.parquet' (format parquet)"
        )
    assert lake.pull_built(paths, [("main", "customer_facts")]) == 1
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        kind = con.sql(
            "select table_type from information_schema.tables where table_name = 'customer_facts'"
        ).fetchall()
        rows = con.sql("select * from main.customer_facts order by 1").fetchall()
    assert kind == [("BASE TABLE",)]
    assert [r[0] for r in rows] == ["c0", "c1", "c2"]


def test_only_models_and_seeds_that_succeeded_come_back():
    manifest = {
        "nodes": {
            "model.p.a": {"resource_type": "model", "schema": "main", "name": "a", "alias": "a"},
            "model.p.b": {"resource_type": "model", "schema": "main", "name": "b", "alias": "b"},
            "seed.p.s": {"resource_type": "seed", "schema": "main", "name": "s", "alias": None},
            "test.p.t": {"resource_type": "test", "schema": "main", "name": "t", "alias": "t"},
        }
    }
    results = {
        "results": [
            {"unique_id": "operation.p.hook", "status": "success"},
            {"unique_id": "model.p.a", "status": "success"},
            {"unique_id": "model.p.b", "status": "error"},
            {"unique_id": "seed.p.s", "status": "success"},
            {"unique_id": "test.p.t", "status": "pass"},
        ]
    }
    assert lake.built_relations(results, manifest) == [("main", "a"), ("main", "s")]


def test_the_engine_setting_is_checked(monkeypatch):
    monkeypatch.setenv(settings.ENGINE_ENV, "Spark ")
    assert settings.engine() == "spark"
    monkeypatch.setenv(settings.ENGINE_ENV, "oracle")
    with pytest.raises(ValueError, match=r"CLIENTELE_ENGINE='oracle': choose one of duckdb, spark"):
        settings.engine()
