"""Fault injection (issue 17 e): kill -9, server crashes, a full disk, a corrupt warehouse and
two writers at once. ``make test-faults`` runs it; ``make test`` leaves it out (pyproject)."""
