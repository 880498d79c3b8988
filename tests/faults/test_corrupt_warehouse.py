"""A truncated warehouse file (a disk that filled up, a copy cut short): the run fails naming
the file and the command that rebuilds it, and that command then publishes the night."""

from __future__ import annotations

import os
import random

from orchestration import settings
from tests.faults import harness
from tests.faults.conftest import PREVIOUS, SETUP_TIMEOUT, D
from tests.faults.kill_points import SEED


def test_truncated_warehouse_fails_clearly_then_rebuilds(base_home, tmp_path):
    home = harness.copy_home(base_home, tmp_path / "home")
    warehouse = settings.Paths(home).warehouse
    fraction = random.Random(SEED).uniform(0.1, 0.9)
    os.truncate(warehouse, int(warehouse.stat().st_size * fraction))

    failed = harness.run(
        home, "run", "--as-of", D.isoformat(), log=tmp_path / "failed.log", timeout=SETUP_TIMEOUT
    )
    assert failed.returncode not in (0, None), failed.output()
    assert str(warehouse) in failed.output(), failed.output()
    assert "clientele run --rebuild-warehouse" in failed.output(), failed.output()
    assert harness.published(home).as_of == PREVIOUS

    rebuilt = harness.run(
        home,
        *("run", "--rebuild-warehouse", "--as-of", D.isoformat()),
        log=tmp_path / "rebuilt.log",
        timeout=SETUP_TIMEOUT,
    )
    assert rebuilt.returncode == 0, rebuilt.output()
    publication = harness.published(home)
    assert publication.as_of == D and not publication.problems, publication.problems
