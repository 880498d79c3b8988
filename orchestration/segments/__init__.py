"""Segments in Python: the schemes and labels (from the dbt seed) and limited offers (SPEC §6),
which rank the segmented customers on demand."""
