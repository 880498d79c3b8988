"""Where the crash trials kill the nightly run: seeded, so a failing trial can be replayed.

A kill point is a step key of ``clientele_nightly`` and a fraction of that step's duration in a
clean run of the same night: the trial kills the run's whole process tree that long after the
step started. Every part of the night gets its share of points (ingest, both dbt invocations,
the CLV model, its backtest, the Great Expectations checks, the publication), and within a part
the fractions are spread over the step (one per equal slice, drawn at random inside it), so a
long step such as a dbt build is hit near its start, its middle and its end.

``CLIENTELE_FAULT_SEED`` picks another set of points; the default is fixed so CI is repeatable.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

DEFAULT_SEED = 17
SEED = int(os.environ.get("CLIENTELE_FAULT_SEED", DEFAULT_SEED))
# Never at the very start or end of a step: a kill at 0 % lands in the step before, at 100 % in
# the next one or after the run (the table printed at the end says where each kill really landed).
LOWEST, HIGHEST = 0.05, 0.9


@dataclass(frozen=True)
class Part:
    """A part of the night, the steps that make it and how many kill points it gets."""

    name: str
    steps: tuple[str, ...]
    points: int = 0
    # Instead of fractions, one point per mark: kill as soon as the step's output on disk shows
    # it reached that phase (trials.MARKS), for phases too short for a fraction to land in.
    marks: tuple[str, ...] = ()


PARTS: tuple[Part, ...] = (
    Part("ingest", ("raw__orders",), 1),  # the biggest source: the longest write
    Part(
        "ingest",
        (
            "raw__contacts",
            "raw__customer_tags",
            "raw__customers",
            "raw__products",
            "raw__surveys",
            "raw__tickets",
        ),
        2,
    ),
    Part(
        "ingest checks",
        ("gx_ingest_upstream", "gx_ingest", "raw__orders_imported_rows_used"),
        2,
    ),
    Part("dbt facts", ("dbt_facts",), 3),
    Part("CLV", ("model__customer_clv",), 2),
    Part("backtest", ("model__clv_backtest",), 1),
    Part("GE checks", ("gx_facts", "gx_model_upstream", "gx_model", "gx_marts"), 3),
    Part("dbt segments and marts", ("dbt_segments_and_marts",), 3),
    # The publication step builds the new file (about half of its time), writes the exports,
    # renders the report (each under a tenth: ~70 ms here), swaps, then reads the new file for
    # the run's metadata; two slices of its time, and a kill at the start of each short phase.
    Part("publication", ("publication",), 2),
    Part("publication", ("publication",), marks=("exports", "report")),
)


@dataclass(frozen=True)
class KillPoint:
    """Kill the run ``fraction`` of ``step``'s clean duration after ``step`` started, or as
    soon as it shows ``mark``."""

    number: int
    part: str
    step: str
    fraction: float
    mark: str = ""

    @property
    def at(self) -> str:
        return self.mark or f"{self.fraction:.2f}"

    @property
    def id(self) -> str:
        return f"{self.number:02d}-{self.step}-{self.at}"


def kill_points(seed: int = SEED, parts: tuple[Part, ...] = PARTS) -> list[KillPoint]:
    """The kill points of ``seed``, in the order the night reaches their parts."""
    rng = random.Random(seed)
    points = []
    for part in parts:
        for mark in part.marks:
            points.append(KillPoint(len(points), part.name, part.steps[0], 0.0, mark))
        if not part.points:
            continue
        width = (HIGHEST - LOWEST) / part.points
        steps = rng.sample(part.steps, len(part.steps))  # each step once before any twice
        for i in range(part.points):
            step = steps[i % len(steps)]
            fraction = rng.uniform(LOWEST + i * width, LOWEST + (i + 1) * width)
            points.append(KillPoint(len(points), part.name, step, round(fraction, 3)))
    return points
