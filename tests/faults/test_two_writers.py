"""Two ``clientele run`` started together on one home: one writes and publishes D, the other
exits 2 at once naming the run that holds the warehouse; never both."""

from __future__ import annotations

import time

from tests.faults import harness
from tests.faults.conftest import SETUP_TIMEOUT, D

AT_ONCE = 60  # seconds: the time to start Python and import clientele, not to run a night


def test_two_runs_at_once_only_one_writes(base_home, tmp_path):
    home = harness.copy_home(base_home, tmp_path / "home")
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    started = time.monotonic()
    processes = [harness.start(home, "run", "--as-of", D.isoformat(), log=log) for log in logs]
    try:
        while all(p.poll() is None for p in processes):
            assert time.monotonic() - started < AT_ONCE, "neither run gave way"
            time.sleep(0.1)
        loser = next(i for i, p in enumerate(processes) if p.poll() is not None)
        winner = 1 - loser
        assert processes[loser].returncode == 2, logs[loser].read_text()
        assert processes[winner].poll() is None, "the loser did not exit while the other ran"
        ran = harness.finish(processes[winner], logs[winner], started, SETUP_TIMEOUT)
    finally:
        for process in processes:
            if process.poll() is None:
                harness.kill_tree(process)
    assert ran.returncode == 0, ran.output()

    with harness.instance_of(home) as instance:
        runs = harness.runs_for(instance, D)
    assert [r.status.value for r in runs] == ["SUCCESS"], "more than one run of D was recorded"
    refused = logs[loser].read_text()
    assert f"is being written by run {runs[0].run_id}" in refused, refused
    publication = harness.published(home)
    assert publication.as_of == D and not publication.problems, publication.problems
    assert set(publication.tables["publication"]["run_id"]) == {runs[0].run_id}
