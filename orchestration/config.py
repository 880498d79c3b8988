"""The product's thresholds and rates: the ``vars`` of ``dbt_project/dbt_project.yml``.

dbt models and Python assets read the same values from that one file; a run may override any
of them (``--vars`` for dbt, ``overrides`` here).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from orchestration.settings import DBT_PROJECT_DIR


@cache
def _project_vars() -> dict[str, Any]:
    with open(DBT_PROJECT_DIR / "dbt_project.yml", encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle).get("vars", {}))


def product_vars(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every configured threshold and rate, with ``overrides`` applied."""
    return {**_project_vars(), **(overrides or {})}
