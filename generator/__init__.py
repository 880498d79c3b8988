"""The synthetic-data generator (SPEC §11): seeded raw drops with planted archetypes, dirt and a
ground-truth file, for tests, demos and benchmarks. A tool beside the pipeline, not part of it:
it depends on the raw data contract (orchestration.ingest.contract) and the home's paths
(orchestration.settings), nothing else of orchestration. ``clientele generate`` runs it."""
