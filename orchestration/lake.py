"""Spark's side of the warehouse (``CLIENTELE_ENGINE=spark``): what dbt reads and builds there,
exchanged with the working DuckDB warehouse as Parquet.

The warehouse stays the one place ingestion writes and the CLV model, the checks and the
publication read, whichever engine runs dbt. On Spark:

- before each dbt step, :func:`write_sources` writes every table of the dbt sources' schemas
  (``raw``, and ``model`` once the CLV model has run) to ``<home>/lake/<schema>/<table>/``, each
  folder replaced whole, and names them in ``CLIENTELE_LAKE_TABLES`` for dbt, which registers
  them as Spark tables (``macros/spark_sources.sql``);
- dbt builds its tables as Parquet under ``<home>/spark/warehouse/<schema>.db/<table>/``;
- after the step, :func:`pull_built` copies every model and seed the step built back into the
  warehouse under the same name, so what follows reads the same tables as on DuckDB.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from orchestration import settings
from orchestration.publish.file import literal, partial_path, remove_partials
from orchestration.warehouse import connect, q

# The schemas of the dbt sources (the _sources.yml files of dbt_project/models).
SOURCE_SCHEMAS = ("raw", "model")
LAKE_TABLES_ENV = "CLIENTELE_LAKE_TABLES"  # "<schema>.<table>,…": what the lake holds, for dbt


def write_sources(paths: settings.Paths) -> list[str]:
    """Write the warehouse's source tables to the lake; return them as ``schema.table``."""
    written = []
    with connect(paths.warehouse) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in "
            f"({', '.join(literal(s) for s in SOURCE_SCHEMAS)}) order by all"
        ).fetchall()
        for schema, table in tables:
            folder = paths.lake / schema / table
            with replacing(folder) as partial:
                con.execute(
                    f"copy (select * from {q(schema)}.{q(table)}) "
                    f"to {literal(partial / 'part-0.parquet')} (format parquet)"
                )
            written.append(f"{schema}.{table}")
    os.environ[LAKE_TABLES_ENV] = ",".join(written)
    return written


class replacing:
    """A folder written whole under a partial name (:func:`partial_path`), then put in place of
    the old one.

    A reader sees the old folder or the new one; a writer killed in between leaves a partial
    folder (removed by the next writer) and at worst no folder, which the next night's
    :func:`write_sources` writes again before dbt reads it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.partial = partial_path(folder)
        self.old = partial_path(folder)  # the folder replaced, until the new one is in place

    def __enter__(self) -> Path:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        remove_partials(self.folder)  # one writer at a time (the warehouse's holder)
        self.partial.mkdir()
        return self.partial

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            shutil.rmtree(self.partial, ignore_errors=True)
            return
        if self.folder.exists():
            self.folder.rename(self.old)
        self.partial.rename(self.folder)
        shutil.rmtree(self.old, ignore_errors=True)


def built_relations(
    run_results: Mapping[str, Any], manifest: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(schema, table) of every model and seed a dbt invocation built successfully."""
    built = []
    for result in run_results.get("results", []):
        node = manifest["nodes"].get(result["unique_id"], {})
        if node.get("resource_type") in ("model", "seed") and result["status"] == "success":
            built.append((node["schema"], node.get("alias") or node["name"]))
    return built


def spark_table_dir(paths: settings.Paths, schema: str, table: str) -> Path:
    """Where Spark keeps a managed table of database ``schema`` (its default layout)."""
    return paths.spark_warehouse / f"{schema}.db" / table


def pull_built(paths: settings.Paths, relations: Iterable[tuple[str, str]]) -> int:
    """Copy Spark's tables into the warehouse under the same names; return how many."""
    count = 0
    with connect(paths.warehouse) as con:
        for schema, table in relations:
            files = spark_table_dir(paths, schema, table) / "*.parquet"
            name = f"{q(schema)}.{q(table)}"
            con.execute(f"create schema if not exists {q(schema)}")
            is_view = "select 1 from duckdb_views() where schema_name = ? and view_name = ?"
            if con.execute(is_view, [schema, table]).fetchall():  # DuckDB builds some as views
                con.execute(f"drop view {name}")
            con.execute(
                f"create or replace table {name} as select * from read_parquet({literal(files)})"
            )
            count += 1
    return count
