"""The code location: everything under ``orchestration/defs`` (the current ``dg`` layout)."""

from pathlib import Path

import dagster as dg

from orchestration import settings
from orchestration.defs.validation import with_validation_checks


@dg.definitions
def defs() -> dg.Definitions:
    settings.activate()
    # Great Expectations checks attach to the assets loaded here (suites for assets not yet
    # defined are skipped), so they are added after the folder is loaded.
    return with_validation_checks(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    )
