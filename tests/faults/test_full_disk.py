"""A full disk while publishing: the new night fails, saying why, and BI keeps night D-1.

The fault is injected after the new file was built (it exists under its temporary name), in
the exports and in the report, the two writes that follow it; the night runs in this process
(``run_night``), so the fault can be patched in.
"""

from __future__ import annotations

import errno

import pytest

from orchestration import definitions, publish, settings
from orchestration.operations import nights
from orchestration.publish import publication
from tests.faults import harness
from tests.faults.conftest import PREVIOUS, D

# patched where the publication step looks them up
WRITERS = {"exports": (publication, "export_tables"), "report": (publication, "write_report")}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_full_disk_during_publication_keeps_the_previous_one(
    writer, base_home, tmp_path, monkeypatch
):
    home = harness.copy_home(base_home, tmp_path / "home")
    paths = settings.Paths(home)
    monkeypatch.setenv(settings.HOME_ENV, str(home))  # restored after the test
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.delenv("CLIENTELE_AS_OF", raising=False)
    temp_files_at_fault = []

    def full_disk(*args, **kwargs):
        temp_files_at_fault.extend(harness.temp_files(home))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(*WRITERS[writer], full_disk)
    result = nights.run_night(paths, D, job=definitions.nightly_job())

    assert temp_files_at_fault, "the fault struck before the new file was built"
    assert not result.success
    failure = "\n".join(nights.failure_lines(result))
    assert "No space left on device" in failure, failure
    assert f"previous publication at {paths.published} is unchanged" in failure, failure
    still = harness.published(home)
    assert still.as_of == PREVIOUS and not still.problems, still.problems
    assert publish.published_as_of(publish.read_log(paths.published)) == PREVIOUS
    assert harness.temp_files(home) == []
