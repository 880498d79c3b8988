"""One crash trial: start night D, kill its whole process tree at a kill point, and record where
the kill really landed; the table of every trial is printed at the end of the session.

The kill is timed from the Dagster event log of the run (the STEP_START event of the kill
point's step, read from the home's instance while the run goes on): the CLI logs at INFO level,
where step starts do not appear, and the event log says exactly which step was running.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import publish, settings
from orchestration.publish.exports import EXPORT_FORMATS
from orchestration.publish.report import REPORT_NAME
from tests.faults import harness
from tests.faults.kill_points import KillPoint

POLL = 0.01  # seconds between looks at the event log once the step is near


@dataclass
class Kill:
    """What a kill hit: the run, the step running (or last ended) and the publication phase."""

    run_id: str
    landed: str
    finished_first: bool = False  # the run ended before the kill point: nothing was killed


def marked(home: Path, as_of: dt.date, mark: str) -> bool:
    """Whether the publication step reached ``mark``: the exports began (a file, maybe still
    temporary, in ``exports/<D>``), or the report began (the last export is in place)."""
    export_dir = settings.Paths(home).export_dir(as_of.isoformat())
    if mark == "exports":
        return export_dir.is_dir() and any(export_dir.iterdir())
    if mark == "report":
        return (export_dir / f"{publish.PUBLICATION_TABLE}.{EXPORT_FORMATS[-1]}").exists()
    raise ValueError(f"unknown mark {mark!r}")


def publication_phase(home: Path, as_of: dt.date) -> str:
    """How far the publication step got, from what it left on disk."""
    paths = settings.Paths(home)
    export_dir = paths.export_dir(as_of.isoformat())
    exports = [p for p in export_dir.glob("*") if not p.name.startswith(".")]
    expected = len(EXPORT_FORMATS) * (len(publish.PUBLISHED_TABLES) + 2)
    try:
        if publish.read_publication(paths.published)["as_of_date"] == as_of:
            return "swapped"
    except (duckdb.Error, publish.PublishError):
        return "published file unreadable"
    if (export_dir / REPORT_NAME).exists():
        return "swap"
    if len(exports) >= expected:
        return "report"
    if exports:
        return "exports"
    return "file" if harness.temp_files(home) else "start"


def where(home: Path, as_of: dt.date, steps: dict[str, harness.Step]) -> str:
    """The step running at the kill (the last one started), or the one just ended."""
    if not steps:
        return "before the first step"
    last = list(steps.values())[-1]
    landed = last.key if last.end is None else f"after {last.key}"
    if last.key == "publication" and last.end is None:
        landed += f" ({publication_phase(home, as_of)})"
    return landed


def kill_night(
    home: Path,
    as_of: dt.date,
    step: str,
    delay: float,
    *,
    mark: str = "",
    log: Path,
    timeout: float,
) -> Kill:
    """Run night ``as_of`` on ``home`` and kill its process tree ``delay`` seconds after
    ``step`` started (and once it shows ``mark``, if given); fails if the run has not got there
    within ``timeout``."""
    started = time.monotonic()
    process = harness.start(home, "run", "--as-of", as_of.isoformat(), log=log)
    run_id, kill_at = None, None
    try:
        with harness.instance_of(home) as instance:
            while process.poll() is None:
                assert time.monotonic() - started < timeout, (
                    f"the run did not reach step {step} in {timeout:.0f} s:\n" + harness.tail(log)
                )
                if run_id is None:
                    runs = harness.runs_for(instance, as_of)
                    run_id = runs[0].run_id if runs else None
                elif kill_at is None:
                    begun = harness.steps_of(instance, run_id).get(step)
                    kill_at = begun.start + delay if begun else None
                due = kill_at is not None and time.time() >= kill_at
                if due and (not mark or marked(home, as_of, mark)):
                    harness.kill_tree(process)
                    return Kill(run_id, where(home, as_of, harness.steps_of(instance, run_id)))
                near = kill_at is not None and kill_at - time.time() < 0.5
                time.sleep(POLL if near else 0.05)
            assert run_id is not None, "the run ended before it was recorded:\n" + harness.tail(log)
            # A run that ended after the step started but before the kill is a skipped trial;
            # one whose step this process never saw start (the run failed before it, or this
            # process cannot read the run's events) is a broken trial, not a skip.
            assert kill_at is not None, (
                f"run {run_id} ended and this process never saw step {step} start in the "
                f"home's event log ({home / 'dagster'}): the run failed before it, or the "
                "event log is not where the instance says:\n" + harness.tail(log)
            )
            return Kill(run_id, "the run ended first", finished_first=True)
    finally:
        if process.poll() is None:
            harness.kill_tree(process)


@dataclass
class Trial:
    """One row of the table printed at the end."""

    point: KillPoint
    delay: float
    landed: str = "?"
    published_after_kill: str = "?"
    rerun_seconds: float | None = None
    hung: bool = False
    identical: bool | None = None
    killed_status: str = "?"
    leftovers: int = 0  # temporary publication files the killed run left behind


TRIALS: list[Trial] = []
CLEAN: dict[str, float] = {}  # the clean night's wall time, once measured


def table() -> list[str]:
    """The trials as text lines, with the numbers the issue asks for at the end."""
    clean = CLEAN.get("seconds")
    lines = [
        f"{'#':>2}  {'kill point (step @ fraction of its clean time, or mark)':<58} {'delay':>6}  "
        f"{'running at the kill':<44} {'published':<10} {'rerun':>6} {'x clean':>7}  "
        f"{'same':<5} {'killed run':<10} {'tmp left':>8}"
    ]
    for t in TRIALS:
        ratio = f"{t.rerun_seconds / clean:.2f}" if t.rerun_seconds and clean else "-"
        rerun = "HANG" if t.hung else f"{t.rerun_seconds:.1f}" if t.rerun_seconds else "-"
        same = "-" if t.identical is None else "yes" if t.identical else "NO"
        lines.append(
            f"{t.point.number:>2}  {t.point.step + ' @ ' + t.point.at:<58} "
            f"{t.delay:>6.2f}  {t.landed[:44]:<44} {t.published_after_kill:<10} {rerun:>6} "
            f"{ratio:>7}  {same:<5} {t.killed_status:<10} {t.leftovers:>8}"
        )
    reruns = [t for t in TRIALS if t.rerun_seconds is not None and not t.hung]
    slowest = max(reruns, key=lambda t: t.rerun_seconds, default=None)
    lines.append(
        f"trials: {len(TRIALS)}, hangs: {sum(t.hung for t in TRIALS)}, reruns identical to the "
        f"clean night: {sum(t.identical is True for t in TRIALS)}/{len(TRIALS)}"
        + (f", clean night: {clean:.1f} s" if clean else "")
        + (
            f", slowest recovery: {slowest.rerun_seconds:.1f} s "
            f"({slowest.rerun_seconds / clean:.2f}x clean, point {slowest.point.number})"
            if slowest and clean
            else ""
        )
    )
    return lines


def killed_run_status(instance: dg.DagsterInstance, run_id: str) -> tuple[str, list[str]]:
    run = instance.get_run_by_id(run_id)
    status = run.status.value if run else "missing"
    return status, harness.failure_messages(instance, run_id)
