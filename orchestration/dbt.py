"""The dbt project as Dagster sees it: its location, an up-to-date manifest and the dbt CLI.

The manifest is rebuilt with ``dbt parse`` only when a project file is newer than it, so loading
the code location costs a few file stats, not a dbt invocation, on every start.

dagster-dbt's public API, but for two private methods of ``DbtCliResource`` that
:class:`ClienteleDbtCli` overrides to skip fixed costs (``_cli_version`` and
``_initialize_dbt_core_adapter``); tests/test_definitions.py
(``test_dbt_resource_skips_what_clientele_does_not_use``) fails when an upgrade renames them.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version
from pydantic import PrivateAttr

from orchestration import settings
from orchestration.dbt_worker_main import save_partial_parse
from orchestration.settings import DBT_PROJECT_DIR

PROJECT_FILES = ("models", "macros", "seeds", "tests", "dbt_project.yml", "profiles.yml")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

# The dbt installed beside this Python (the project's venv), whether or not it is on PATH.
_beside_python = Path(sys.executable).parent / "dbt"
DBT_EXECUTABLE = str(_beside_python) if _beside_python.exists() else shutil.which("dbt") or "dbt"


class ClienteleDbtCli(DbtCliResource):
    """dagster-dbt's resource, minus two fixed costs that buy clientele nothing:

    - a ``dbt --version`` subprocess (2.3 s) per run: the dbt it runs is the dbt-core
      installed beside this Python, whose version is known;
    - a dbt adapter loaded into the Dagster process before each invocation (the project's
      macros and profile, 1.3 s each time). dagster-dbt needs it only to fetch row counts or
      column metadata after the build, and clientele asks for neither.
    """

    @cached_property
    def _cli_version(self) -> Version:
        if self.dbt_executable != str(_beside_python):
            return super()._cli_version
        return Version(installed_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None

    _worker: Any = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Start the run's dbt worker now, so its start-up overlaps ingest (DuckDB only: on
        Spark dbt runs as a subprocess of its own, its JVM beside it)."""
        super().setup_for_execution(context)
        if settings.engine() == "duckdb":
            self.worker()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._worker is not None:
            self._worker.stop()

    def worker(self):
        """The run's dbt worker (orchestration/dbt_worker.py), started again if it has died."""
        from orchestration.dbt_worker import DbtWorker

        if self._worker is None or not self._worker.alive:
            if self._worker is not None:
                self._worker.kill()  # reaped, its pipes closed
            self._worker = DbtWorker()
        return self._worker


def dbt_cli() -> DbtCliResource:
    return ClienteleDbtCli(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for name in PROJECT_FILES:
        path = project_dir / name
        files = [path] if path.is_file() else list(path.rglob("*")) if path.exists() else []
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def ensure_manifest() -> Path:
    """The path of a manifest that reflects the current project files (parsing if stale)."""
    manifest = dbt_project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(DBT_PROJECT_DIR):
        dbt_cli().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    return manifest


# The as-of date reaches dbt in this environment variable (macros/as_of.sql): unlike --vars,
# a new value every night does not make dbt re-parse the whole project (3-4 s per invocation).
AS_OF_ENV = "CLIENTELE_AS_OF"


def project_target() -> Path:
    """The project's own target folder (absolute): its manifest, the saved partial parse and
    each invocation's folder."""
    return Path(dbt_project.project_dir) / dbt_project.target_path


def keep_partial_parse(invocation_target: Path) -> None:
    """Make this invocation's parse the one the next invocation starts from.

    Dagster copies the project's ``partial_parse.msgpack`` into each invocation's folder;
    saving this one back lets the run's second invocation start from a parse that has seen
    the night's as-of date, rather than re-parsing what depends on it.
    """
    project_dir = Path(dbt_project.project_dir)  # an absolute invocation_target stays absolute
    save_partial_parse(project_dir / invocation_target, project_target())
