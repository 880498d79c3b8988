"""Paths and tunables, derived from one setting: ``CLIENTELE_HOME``.

Dagster, dbt and the CLI all read their paths from here. The home is made absolute at start-up
and written back to the environment, so dbt (a subprocess, possibly run from a copy of the
project) opens exactly the same DuckDB file as Dagster does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DEFAULT_HOME = PROJECT_ROOT / "data"

HOME_ENV = "CLIENTELE_HOME"


@dataclass(frozen=True)
class Paths:
    """Every file location of one clientele home."""

    home: Path

    @property
    def raw(self) -> Path:
        return self.home / "raw"

    @property
    def truth(self) -> Path:
        return self.raw / "_truth"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse" / "clientele.duckdb"

    @property
    def published(self) -> Path:
        return self.home / "published" / "clientele.duckdb"

    @property
    def exports(self) -> Path:
        return self.home / "exports"

    @property
    def lake(self) -> Path:
        """The dbt sources as Parquet, for Spark (orchestration/lake.py)."""
        return self.home / "lake"

    @property
    def spark_warehouse(self) -> Path:
        """Spark's tables (Parquet) and, beside them, its metastore (dbt_project/profiles.yml)."""
        return self.home / "spark" / "warehouse"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def data_docs(self) -> Path:
        """Great Expectations project and its Data Docs site (``site/index.html``)."""
        return self.home / "data_docs"

    def source_dir(self, source: str) -> Path:
        return self.raw / source

    def export_dir(self, as_of: str) -> Path:
        return self.exports / as_of


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """The absolute home: the argument, else ``$CLIENTELE_HOME``, else ``data/`` of the checkout."""
    chosen = home or os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def activate(home: str | os.PathLike | None = None) -> Paths:
    """Resolve the home, export it for subprocesses (dbt) and return its paths."""
    path = resolve_home(home)
    os.environ[HOME_ENV] = str(path)
    os.environ[ENGINE_ENV] = engine()  # the dbt target (profiles.yml)
    return Paths(path)


def current() -> Paths:
    """The paths of the home this process runs on (activated at start-up), changing nothing."""
    return Paths(resolve_home())


# The engine dbt runs on: "duckdb" (the working warehouse file itself) or "spark" (dbt-spark;
# sources and tables exchanged with the warehouse as Parquet, orchestration/lake.py). It names
# the dbt target (dbt_project/profiles.yml); everything else of the night is the same.
ENGINE_ENV = "CLIENTELE_ENGINE"
ENGINES = ("duckdb", "spark")


def engine() -> str:
    """The engine of this process's runs, checked."""
    chosen = os.environ.get(ENGINE_ENV, "duckdb").strip().lower() or "duckdb"
    if chosen not in ENGINES:
        raise ValueError(f"{ENGINE_ENV}={chosen!r}: choose one of {', '.join(ENGINES)}")
    return chosen


# Scheduling. The nightly run starts at 02:00 in this timezone and computes D = yesterday.
TIMEZONE = os.environ.get("CLIENTELE_TIMEZONE", "UTC")
# DuckDB's memory ceiling for every connection that does heavy work: ingestion, dbt
# (profiles.yml reads the same variable) and the publication.
DUCKDB_MEMORY_LIMIT = os.environ.get("CLIENTELE_DUCKDB_MEMORY_LIMIT", "8GB")
# Owners shown on every asset in the UI.
OWNERS = ["team:data-engineering"]
