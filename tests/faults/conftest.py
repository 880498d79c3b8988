"""The fault suite's homes, built once per session: a small generated home that published night
D-1 (every trial starts from a copy of it), and the clean night D on another copy (what every
recovered night must publish, and the wall time its recovery is measured against)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults import harness, trials

D = dt.date(2026, 6, 30)
PREVIOUS = D - dt.timedelta(days=1)
CUSTOMERS, DATA_SEED, DAYS = 120, 17, 400
SETUP_TIMEOUT = 900  # seconds; a night takes about a minute here


@dataclass
class CleanNight:
    home: Path
    seconds: float
    run_id: str
    steps: dict[str, harness.Step]
    published: harness.Published


@pytest.fixture(scope="session")
def base_home(tmp_path_factory) -> Path:
    """Generated drops up to D, with night D-1 run and published."""
    home = tmp_path_factory.mktemp("base") / "home"
    generated = harness.run(
        home,
        *("generate", "--customers", str(CUSTOMERS), "--seed", str(DATA_SEED)),
        *("--days", str(DAYS), "--end", D.isoformat(), "--dirt"),
        log=home.parent / "generate.log",
        timeout=SETUP_TIMEOUT,
    )
    assert generated.returncode == 0, generated.output()
    night = harness.run(
        home,
        *("run", "--as-of", PREVIOUS.isoformat()),
        log=home.parent / "previous.log",
        timeout=SETUP_TIMEOUT,
    )
    assert night.returncode == 0, night.output()
    assert harness.published(home).as_of == PREVIOUS
    return home


@pytest.fixture(scope="session")
def clean_night(base_home, tmp_path_factory) -> CleanNight:
    """Night D run without a fault on a copy of the base home: its steps, time and publication."""
    home = harness.copy_home(base_home, tmp_path_factory.mktemp("clean") / "home")
    night = harness.run(
        home, "run", "--as-of", D.isoformat(), log=home.parent / "clean.log", timeout=SETUP_TIMEOUT
    )
    assert night.returncode == 0, night.output()
    with harness.instance_of(home) as instance:
        (run,) = harness.runs_for(instance, D)
        steps = harness.steps_of(instance, run.run_id)
    publication = harness.published(home)
    assert publication.as_of == D and not publication.problems, publication.problems
    trials.CLEAN["seconds"] = night.seconds
    return CleanNight(home, night.seconds, run.run_id, steps, publication)


def pytest_terminal_summary(terminalreporter) -> None:
    """The table of crash trials: where each kill landed and how the home recovered."""
    if trials.TRIALS:
        terminalreporter.write_sep("=", "crash trials (kill -9 of clientele run, then a rerun)")
        for line in trials.table():
            terminalreporter.write_line(line)
