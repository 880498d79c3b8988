"""Resources: the warehouse (one absolute DuckDB path, one writer at a time), the night's run
configuration and the dbt CLI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from pydantic import Field, PrivateAttr

from orchestration import settings, warehouse
from orchestration.dbt import dbt_cli
from orchestration.operations import nights, runs
from orchestration.operations.locks import Holder
from orchestration.publish.file import remove_partials


class WarehouseCorrupt(RuntimeError):
    """The warehouse file cannot be opened."""


class Warehouse(dg.ConfigurableResource):
    """The clientele home: the working DuckDB file and the folders around it.

    For the whole of a run that uses it, the run's process holds the run's liveness lock and
    the warehouse's one-writer lock (OS locks that die with the process), after failing the
    runs that died before it, and removes what a run killed while publishing left behind. A run
    launched from the UI waits for the warehouse; the CLI takes it first and fails at once if
    it is taken."""

    home: str

    @property
    def paths(self) -> settings.Paths:
        return settings.Paths(settings.resolve_home(self.home))

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(self.paths.warehouse, read_only=read_only) as con:
            yield con

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[Warehouse]:
        instance, run = context.instance, context.run
        with runs.liveness(instance, run.run_id, run.job_name):
            for dead in runs.fail_dead_runs(instance, noticed_by=f"run {run.run_id}"):
                context.log.warning(f"run {dead} had died; marked failed")
            holder = Holder.now(run.run_id, run.job_name)
            with nights.holding_warehouse(self.paths, holder, wait=True, log=context.log):
                check_opens(self.paths)
                # only the holder publishes: a partial published file is a dead run's, as
                # large as the file BI reads, and nothing else would ever remove it
                for path in remove_partials(self.paths.published):
                    context.log.warning(f"removed {path}, left by a run that died publishing")
                yield self


def check_opens(paths: settings.Paths) -> None:
    """Fail with what to do when the warehouse file is truncated or corrupt."""
    if not paths.warehouse.exists():
        return
    try:
        duckdb.connect(str(paths.warehouse)).close()
    except duckdb.Error as error:
        raise WarehouseCorrupt(
            f"the warehouse {paths.warehouse} cannot be opened ({error}). It is rebuilt from "
            f"the raw drops under {paths.raw}: run `clientele run --rebuild-warehouse "
            f"--home {paths.home}` (it moves the file aside and loads every drop again), then "
            "`clientele backfill` to recompute the segment history of earlier dates."
        ) from error


class Night(dg.ConfigurableResource):
    """What one run computes: the as-of date D, whether it may publish an older date, and
    whether it rebuilds the incremental models from scratch.

    Run configuration (Launchpad: ``resources: night: config: as_of: YYYY-MM-DD``): the
    schedule passes yesterday, the CLI and backfills their date; left empty, D is the latest
    order drop date."""

    as_of: str = Field(default="", description="YYYY-MM-DD; empty: the latest order drop date")
    publish_older: bool = Field(
        default=False,
        description="Replace the published file even when it holds a newer as-of date.",
    )
    full_refresh: bool = Field(
        default=False,
        description="Rebuild the incremental dbt models from every loaded drop.",
    )
    _date: dt.date | None = PrivateAttr(default=None)

    @property
    def date(self) -> dt.date:
        if self._date is None:
            self._date = (
                dt.date.fromisoformat(self.as_of)
                if self.as_of
                else nights.latest_data_date(settings.Paths(settings.resolve_home()))
            )
        return self._date

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        day = self.date.isoformat()
        if context.run.tags.get(nights.AS_OF_TAG) != day:
            context.instance.add_run_tags(context.run.run_id, {nights.AS_OF_TAG: day})


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "warehouse": Warehouse(home=str(settings.current().home)),
            "night": Night(),
            "dbt": dbt_cli(),
        }
    )
