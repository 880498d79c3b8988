"""Dagster definitions, one module per stage of the flow; loaded by ``dg`` from this folder."""
