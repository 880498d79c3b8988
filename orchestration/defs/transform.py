"""The dbt project as Dagster assets: staging, facts and marts, built for the as-of date D.

dbt tests run in the same ``dbt build`` and show as asset checks.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from orchestration import settings
from orchestration.dbt import dbt_vars, ensure_manifest
from orchestration.defs.partitions import as_of_partitions

# dbt folder -> Dagster group, so the UI shows the flow ingest -> staging -> facts -> ...
GROUPS = {"staging": "staging", "intermediate": "facts", "marts": "facts"}


class ClienteleTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        meta_group = dbt_resource_props.get("config", {}).get("meta", {}).get("dagster", {})
        if meta_group.get("group"):
            return meta_group["group"]
        fqn = dbt_resource_props.get("fqn", [])
        return GROUPS.get(fqn[1], "facts") if len(fqn) > 2 else "facts"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return settings.OWNERS


@dbt_assets(
    manifest=ensure_manifest(),
    dagster_dbt_translator=ClienteleTranslator(),
    partitions_def=as_of_partitions,
    pool=settings.WAREHOUSE_POOL,
)
def clientele_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Build the selected dbt models and run their tests for the partition's as-of date."""
    yield from dbt.cli(
        ["build", "--vars", dbt_vars(context.partition_key)], context=context
    ).stream()
