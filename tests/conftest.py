"""Shared fixtures. The whole pipeline runs once per session on a small generated dataset."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from orchestration import settings

AS_OF = dt.date(2026, 6, 30)
CUSTOMERS = 400
SEED = 11


def generate_into(home: Path, *, dirt: bool, end: dt.date = AS_OF) -> settings.Paths:
    from generator.generate import generate

    paths = settings.Paths(home)
    generate(paths, customers=CUSTOMERS, seed=SEED, days=1095, end=end, dirt=dirt)
    return paths


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
