"""clientele: a nightly customer-analytics pipeline (Dagster code location)."""
