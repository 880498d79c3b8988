"""Operating clientele over months: locks that die with their holder, dead-run detection,
monotone publication's bookkeeping and running nights and backfills outside the UI."""
