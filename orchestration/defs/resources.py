"""Resources: the warehouse (one absolute DuckDB path) and the dbt CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from orchestration import settings, warehouse
from orchestration.dbt import dbt_cli


class Warehouse(dg.ConfigurableResource):
    """The clientele home: the working DuckDB file and the folders around it."""

    home: str

    @property
    def paths(self) -> settings.Paths:
        return settings.Paths(settings.resolve_home(self.home))

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(self.paths.warehouse, read_only=read_only) as con:
            yield con


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": Warehouse(home=str(settings.current().home)),
            "dbt": dbt_cli(),
        }
    )
