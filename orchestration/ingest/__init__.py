"""Ingestion: raw drops into the warehouse, every row staged or quarantined with a reason.

contract (what each source holds) -> readers (files as text batches) -> mapping (a user's
layout onto the contract) -> drops (which files, which dates) -> classify (the SQL that types,
checks and de-duplicates) -> loader (one transaction per batch of drops); imports places a
user's export as drops.
"""
