"""The code location: everything under ``orchestration/defs`` (the current ``dg`` layout)."""

from pathlib import Path

import dagster as dg

from orchestration import settings


@dg.definitions
def defs() -> dg.Definitions:
    settings.activate()
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
