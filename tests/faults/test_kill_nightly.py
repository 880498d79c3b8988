"""kill -9 of a nightly run at seeded points of every step, then a rerun of the same night.

After each kill, BI still sees a whole publication (D-1, or all of D), a plain rerun finishes
within twice a clean night's time and publishes exactly what the clean night did, and the
killed run is shown failed, with the reason, in the home's Dagster instance.
"""

from __future__ import annotations

import pytest

from tests.faults import harness, trials
from tests.faults.conftest import PREVIOUS, SETUP_TIMEOUT, D
from tests.faults.kill_points import SEED, kill_points

POINTS = kill_points(SEED)


def test_kill_points_cover_every_part_of_the_night():
    """At least 20 points, every part of the night hit, the same points for the same seed."""
    assert len(POINTS) >= 20
    assert {p.part for p in POINTS} >= {
        "ingest",
        "dbt facts",
        "CLV",
        "backtest",
        "GE checks",
        "dbt segments and marts",
        "publication",
    }
    assert kill_points(SEED) == POINTS
    assert kill_points(SEED + 1) != POINTS


@pytest.mark.parametrize("point", POINTS, ids=lambda p: p.id)
def test_kill_then_rerun(point, base_home, clean_night, tmp_path):
    step = clean_night.steps.get(point.step)
    assert step is not None, f"the clean night has no step {point.step}: update kill_points.PARTS"
    budget = 2 * clean_night.seconds
    trial = trials.Trial(point, delay=point.fraction * step.duration)
    trials.TRIALS.append(trial)
    home = harness.copy_home(base_home, tmp_path / "home")

    kill = trials.kill_night(
        home,
        D,
        point.step,
        trial.delay,
        mark=point.mark,
        log=tmp_path / "killed.log",
        timeout=SETUP_TIMEOUT,  # getting to the kill point is not what is timed
    )
    trial.landed = kill.landed

    # (a) BI sees D-1, or a complete D, never a mix.
    after_kill = harness.published(home)
    trial.published_after_kill = str(after_kill.as_of)
    trial.leftovers = len(harness.temp_files(home))
    assert after_kill.as_of in (PREVIOUS, D)
    assert not after_kill.problems, after_kill.problems
    if after_kill.as_of == D:
        assert not harness.differences(after_kill, clean_night.published)

    # (b) a rerun of the same night finishes, in at most twice a clean night's time.
    rerun = harness.run(
        home, "run", "--as-of", D.isoformat(), log=tmp_path / "rerun.log", timeout=budget
    )
    trial.hung, trial.rerun_seconds = rerun.hung, rerun.seconds
    assert not rerun.hung, f"the rerun hung (killed after {budget:.0f} s):\n{rerun.output()}"
    assert rerun.returncode == 0, rerun.output()

    # (c) it publishes what the clean night published, cell for cell.
    found = harness.differences(harness.published(home), clean_night.published)
    trial.identical = not found
    assert not found, "\n".join(found)

    # (d) the killed run is failed in the instance, saying why.
    with harness.instance_of(home) as instance:
        status, messages = trials.killed_run_status(instance, kill.run_id)
    trial.killed_status = status
    if kill.finished_first:
        pytest.skip(f"run {kill.run_id} ended before the kill point ({status})")
    assert status == "FAILURE", f"killed run {kill.run_id} is {status}"
    assert any("dead" in m and "liveness lock" in m for m in messages), messages

    # ... and what it left half-written beside the published file is gone.
    assert harness.temp_files(home) == [], "the killed run's partial publication was kept"
