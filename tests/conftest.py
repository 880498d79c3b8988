"""Shared fixtures. The whole pipeline runs once per session on a small generated dataset."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration import settings
from orchestration.dbt import DBT_EXECUTABLE

AS_OF = dt.date(2026, 6, 30)
CUSTOMERS = 400
SEED = 11


def generate_into(home: Path, *, dirt: bool, end: dt.date = AS_OF) -> settings.Paths:
    from generator.generate import generate

    paths = settings.Paths(home)
    generate(paths, customers=CUSTOMERS, seed=SEED, days=1095, end=end, dirt=dirt)
    return paths


def run_dbt(
    home: Path,
    *args: str,
    variables: dict,
    target: Path | None = None,
    timeout: float = 600,
    engine: str = "duckdb",
) -> None:
    """``dbt <args>`` on ``home``'s warehouse, as a fresh process that sees nothing of this
    one's environment (in particular no CLIENTELE_AS_OF left by an in-process night); its
    artifacts in ``target`` (default ``home/target``). Fails the test when dbt does."""
    target = target or home / "target"
    project = str(settings.DBT_PROJECT_DIR)
    command = [
        DBT_EXECUTABLE, *args, "--vars", json.dumps(variables),
        "--project-dir", project, "--profiles-dir", project,
        "--target-path", str(target), "--log-path", str(target / "logs"),
    ]  # fmt: skip
    env = {"CLIENTELE_HOME": str(home), "CLIENTELE_ENGINE": engine, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:]


def published_tables(path: Path) -> dict[str, pd.DataFrame]:
    """Every table of a published file, opened read-only as BI does."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = con.execute(
            "select table_name from duckdb_tables() "
            "where database_name = current_database() and not internal order by 1"
        ).fetchall()
        return {name: con.execute(f'select * from main."{name}"').df() for (name,) in names}


@pytest.fixture(scope="session")
def clean_raw(tmp_path_factory) -> Path:
    """The same dataset without injected dirt: what the pipeline should see after quarantine."""
    return generate_into(tmp_path_factory.mktemp("clean"), dirt=False).raw


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> settings.Paths:
    """A home with dirty generated data, materialized once for AS_OF by the nightly job."""
    from orchestration.definitions import nightly_job
    from orchestration.operations.nights import run_night

    home = tmp_path_factory.mktemp("home")
    paths = settings.activate(home)
    generate_into(home, dirt=True)
    result = run_night(paths, AS_OF, job=nightly_job())
    assert result.success, "the pipeline failed on generated data"
    return paths


@pytest.fixture(scope="session")
def warehouse(pipeline):
    con = duckdb.connect(str(pipeline.warehouse), read_only=True)
    yield con
    con.close()
