"""The code location: everything under ``orchestration/defs`` (the current ``dg`` layout)."""

from pathlib import Path

import dagster as dg

from orchestration import settings
from orchestration.defs.quality import with_validation_checks
from orchestration.operations.nights import NIGHTLY_JOB


@dg.definitions
def defs() -> dg.Definitions:
    settings.activate()
    # Great Expectations checks attach to the assets loaded here (suites for assets not yet
    # defined are skipped), so they are added after the folder is loaded.
    return with_validation_checks(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    )


def nightly_job() -> dg.JobDefinition:
    """The nightly job of this code location, to run nights outside the UI (CLI, tests)."""
    return defs().resolve_job_def(NIGHTLY_JOB)
