"""``clientele``: the pipeline for people without the Dagster UI.

clientele generate --customers 500 --seed 7 [--days 1095] [--end D] [--dirt] [--home DIR]
clientele run [--as-of D] [--home DIR] [--publish-older] [--rebuild-warehouse]
clientele backfill --from D1 [--to D2] [--every day|week|month] [--mapping M --input PATH]
clientele allocate --slots 10 --policy top_clv [--seed S] [--exclude X ...] [--home DIR]
clientele report [--as-of D] [--home DIR]
clientele serve [--home DIR]
clientele mapping check --mapping M --input PATH [--rows N]
clientele mapping suggest --input PATH [--output FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestration import settings
from orchestration.operations import nights
from orchestration.operations.locks import Holder
from orchestration.segments import schemes


def cmd_generate(args: argparse.Namespace) -> int:
    from generator.generate import generate

    paths = settings.activate(args.home)
    end = dt.date.fromisoformat(args.end) if args.end else None
    summary = generate(
        paths, customers=args.customers, seed=args.seed, days=args.days, end=end, dirt=args.dirt
    )
    print(summary)
    print(f"raw drops written under {paths.raw}")
    return 0


def nightly_job():
    """The code location's nightly job (loading it imports Dagster and dbt's manifest)."""
    from orchestration.definitions import nightly_job

    return nightly_job()


def cmd_run(args: argparse.Namespace) -> int:
    paths = settings.activate(args.home)
    if not import_given_export(paths, args):
        return 2
    try:
        as_of = dt.date.fromisoformat(args.as_of) if args.as_of else nights.latest_data_date(paths)
    except FileNotFoundError as exc:
        raise SystemExit(f"clientele: {exc}") from exc
    run_id = str(uuid.uuid4())
    with holding(paths, run_id, f"clientele run --as-of {as_of}") as held:
        if not held:
            return 2
        if args.rebuild_warehouse:
            rebuild_warehouse(paths)
        print(f"clientele: running every asset for as-of date {as_of} (home {paths.home})")
        result = nights.run_night(
            paths,
            as_of,
            job=nightly_job(),
            publish_older=args.publish_older,
            full_refresh=args.full_refresh,
            run_id=run_id,
        )
    return report_night(paths, as_of, result)


def import_given_export(paths: settings.Paths, args: argparse.Namespace) -> bool:
    """Import ``--input`` through ``--mapping`` when given (both or neither); False after
    printing why the import could not be done."""
    if bool(args.mapping) != bool(args.input):
        raise SystemExit("clientele: --mapping and --input go together")
    return not args.mapping or import_mapped(paths, args.mapping, Path(args.input).resolve()) == 0


def import_mapped(paths: settings.Paths, mapping_name: str, input_path: Path) -> int:
    """Import the user's export through a mapping; 0, or 2 after printing why it could not."""
    from orchestration.ingest import imports, mapping

    try:
        chosen = mapping.load(mapping_name)
        placed = imports.import_input(chosen, input_path, paths.raw)
    except (mapping.MappingError, mapping.IngestError) as exc:
        print(f"clientele: {exc}", file=sys.stderr)
        return 2
    print(f"clientele: mapping '{chosen.name}' imported {len(placed)} file(s) into {paths.raw}")
    for path in imports.unmatched_inputs(chosen, input_path):
        print(f"clientele: WARNING {path} matches no source of the mapping: not imported")
    return 0


@contextmanager
def holding(paths: settings.Paths, run_id: str, what: str) -> Iterator[bool]:
    """Hold the warehouse for a command, or say who holds it (yields False)."""
    try:
        with nights.holding_warehouse(paths, Holder.now(run_id, what), wait=False):
            yield True
    except nights.WarehouseBusy as busy:
        print(f"clientele: {busy}", file=sys.stderr)
        yield False


def rebuild_warehouse(paths: settings.Paths) -> None:
    """Move the warehouse aside (it is rebuilt from the raw drops by the run that follows)."""
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    for path in (paths.warehouse, paths.warehouse.with_name(paths.warehouse.name + ".wal")):
        if path.exists():
            aside = path.with_name(f"{path.name}.{stamp}.aside")
            path.replace(aside)
            print(f"clientele: moved {path} to {aside}; rebuilding from {paths.raw}")


def report_night(paths: settings.Paths, as_of: dt.date, result) -> int:
    """Print what a night did (published or not, warnings, where outputs are); exit code."""
    if not result.success:
        for line in nights.failure_lines(result):
            print(f"clientele: {line}", file=sys.stderr)
        return 1
    export_dir = paths.export_dir(as_of.isoformat())
    for line in nights.warning_lines(result):
        print(f"clientele: {line}")
    published = nights.publication_lines(result)
    if published == [nights.NOTHING_PUBLISHED]:  # a step was skipped: the run is not done
        skipped = sorted({e.step_key for e in result.all_events if e.is_step_skipped})
        print(f"clientele: {as_of} not done: skipped steps {', '.join(skipped)}", file=sys.stderr)
        return 1
    print(f"clientele: {as_of} done: {'; '.join(published)}")
    print(f"  warehouse (pipeline only): {paths.warehouse}")
    print(f"  published for BI:          {paths.published}")
    print(f"  scorecards:                {export_dir}/loyalty_scorecard.csv (and .parquet)")
    print(f"                             {export_dir}/profitability_scorecard.csv")
    print(f"  report:                    {export_dir}/report.html")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    """Every as-of date from --from to --to (every day, week or month), then the newest."""
    paths = settings.activate(args.home)
    if not import_given_export(paths, args):
        return 2
    try:
        dates = nights.plan_backfill(
            paths,
            dt.date.fromisoformat(args.start),
            dt.date.fromisoformat(args.end) if args.end else None,
            args.every,
        )
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"clientele: {exc}") from exc
    backfill_id = str(uuid.uuid4())
    print(
        f"clientele: backfill {backfill_id[:8]} of {len(dates)} as-of dates: "
        f"{dates[0]} .. {dates[-1]} (every {args.every}, then the newest)"
    )
    with holding(paths, backfill_id, f"clientele backfill --from {args.start}") as held:
        if not held:
            return 2
        job = nightly_job()
        for as_of in dates:
            result = nights.run_night(
                paths,
                as_of,
                job=job,
                publish_older=args.publish_older,
                tags={nights.BACKFILL_TAG: backfill_id},
                log_level="WARNING",
            )
            if report_night(paths, as_of, result) != 0:
                print(f"clientele: backfill stopped at {as_of}", file=sys.stderr)
                return 1
    return 0


def cmd_allocate(args: argparse.Namespace) -> int:
    """Run the allocate_offer job in-process (recorded in Dagster) and print the ranked list."""
    import dagster as dg

    from orchestration.segments import offers

    paths = settings.activate(args.home)
    nights.prepare_dagster_home(paths)
    from orchestration.definitions import defs

    exclusions = [] if args.no_default_exclusions else list(offers.DEFAULT_EXCLUSIONS)
    exclusions += [e for e in args.exclude if e not in exclusions]
    config = {
        "slots": args.slots,
        "policy": args.policy,
        "exclusions": exclusions,
        "exclude_customers": args.exclude_customer,
        "seed": args.seed,
        "offer_id": args.offer_id or "",
        "as_of": args.as_of or "",
        "cooldown_days": -1 if args.cooldown_days is None else args.cooldown_days,
    }
    job = defs().resolve_job_def("allocate_offer")
    run_id = str(uuid.uuid4())
    with holding(paths, run_id, "clientele allocate") as held, dg.DagsterInstance.get() as instance:
        if not held:
            return 2
        result = job.execute_in_process(
            run_id=run_id,
            run_config={
                "ops": {"allocate_offer_op": {"config": config}},
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
            },
            instance=instance,
            raise_on_error=False,
        )
    if not result.success:
        for line in nights.failure_lines(result):
            print(f"clientele: {line}", file=sys.stderr)
        print("clientele: allocation FAILED", file=sys.stderr)
        return 1
    print(result.output_for_node("allocate_offer_op"))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Regenerate exports/<D>/report.html from the published file (or D's Parquet exports)."""
    from orchestration.publish.report import report_for

    paths = settings.activate(args.home)
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    try:
        path = report_for(paths, as_of)
    except FileNotFoundError as exc:
        print(f"clientele: {exc}", file=sys.stderr)
        return 1
    print(f"clientele: report written to {path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    paths = settings.activate(args.home)
    nights.prepare_dagster_home(paths)
    dagster = Path(sys.executable).parent / "dagster"
    os.execv(
        str(dagster),
        [
            str(dagster),
            "dev",
            "-m",
            "orchestration.definitions",
            "--host",
            args.host,
            "-p",
            str(args.port),
        ],
    )
    return 0  # pragma: no cover - execv does not return


def cmd_mapping_check(args: argparse.Namespace) -> int:
    """A dry run of a mapping on an export: no warehouse is touched. 2 on an invalid mapping
    file, 1 when it does not fit the files or a run would fail, else 0."""
    from orchestration.ingest import dryrun, mapping

    try:
        chosen = mapping.load(args.mapping)
    except mapping.MappingError as exc:
        print(f"clientele: invalid mapping: {exc}", file=sys.stderr)
        return 2
    report = dryrun.check(chosen, Path(args.input).resolve(), rows=args.rows)
    print(report.text)
    return 0 if report.ok else 1


def cmd_mapping_suggest(args: argparse.Namespace) -> int:
    """Propose a mapping from an export's headers (YAML on stdout or in --output)."""
    from orchestration.ingest import mapping, suggest

    try:
        text = suggest.suggest(Path(args.input).resolve())
    except (mapping.MappingError, mapping.IngestError) as exc:
        print(f"clientele: {exc}", file=sys.stderr)
        return 2
    if not args.output:
        print(text, end="")
        return 0
    output = Path(args.output)
    if output.exists():
        print(f"clientele: {output} exists; not overwritten", file=sys.stderr)
        return 2
    output.write_text(text, encoding="utf-8")
    print(f"clientele: proposed mapping written to {output}; edit it, then run")
    print(f"  clientele mapping check --mapping {output} --input {args.input}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="clientele", description=__doc__.split("\n\n")[0])
    sub = root.add_subparsers(dest="command", required=True)

    def with_home(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--home", help="CLIENTELE_HOME (default: $CLIENTELE_HOME or ./data)")
        return p

    gen = with_home(sub.add_parser("generate", help="write seeded synthetic raw drops"))
    gen.add_argument("--customers", type=int, default=500)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--days", type=int, default=1095, help="days of history (default 1095)")
    gen.add_argument("--end", help="last day of data, YYYY-MM-DD (default: yesterday)")
    gen.add_argument("--dirt", action="store_true", help="inject malformed and duplicate rows")
    gen.set_defaults(func=cmd_generate)

    run = with_home(sub.add_parser("run", help="materialize everything for one as-of date"))
    run.add_argument("--as-of", help="YYYY-MM-DD (default: the latest order drop date)")

    def with_import(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--mapping",
            help="a mapping file or preset (invoice_lines, order_level, legacy_text, "
            "marketplace) to import --input with",
        )
        p.add_argument("--input", help="your export: a file or a folder")
        return p

    with_import(run)
    run.add_argument(
        "--publish-older",
        action="store_true",
        help="replace the published file even if it holds a newer as-of date",
    )
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild the incremental models from every loaded drop (dbt --full-refresh)",
    )
    run.add_argument(
        "--rebuild-warehouse",
        action="store_true",
        help="move the warehouse aside and rebuild it from the raw drops (a corrupt file)",
    )
    run.set_defaults(func=cmd_run)

    back = with_home(
        sub.add_parser("backfill", help="compute many as-of dates in order, then the newest")
    )
    back.add_argument("--from", dest="start", required=True, help="first as-of date YYYY-MM-DD")
    back.add_argument("--to", dest="end", help="last as-of date (default: latest order drop)")
    back.add_argument("--every", choices=sorted(nights.EVERY), default="month")
    with_import(back)
    back.add_argument(
        "--publish-older",
        action="store_true",
        help="publish each date even when the published file holds a newer one",
    )
    back.set_defaults(func=cmd_backfill)

    alloc = with_home(sub.add_parser("allocate", help="allocate a limited offer (SPEC §6)"))
    alloc.add_argument("--slots", type=int, required=True, help="how many customers get it")
    alloc.add_argument(
        "--policy",
        default="top_clv",
        choices=schemes.offer_policies(),
    )
    alloc.add_argument("--seed", type=int, default=0, help="lottery seed (default 0)")
    alloc.add_argument(
        "--exclude",
        action="append",
        default=[],
        help="extra exclusion: internal, below_zero, let_go, cooldown or <scheme>:<label>",
    )
    alloc.add_argument(
        "--no-default-exclusions",
        action="store_true",
        help="drop the defaults (internal, below_zero, let_go, cooldown)",
    )
    alloc.add_argument("--exclude-customer", action="append", default=[], metavar="ID")
    alloc.add_argument("--offer-id", help="name of the offer (default: <as-of>-<policy>)")
    alloc.add_argument("--as-of", help="YYYY-MM-DD (default: the latest segmented date)")
    alloc.add_argument("--cooldown-days", type=int, help="default: offer_cooldown_days")
    alloc.set_defaults(func=cmd_allocate)

    report = with_home(sub.add_parser("report", help="regenerate the HTML report (SPEC §9)"))
    report.add_argument("--as-of", help="YYYY-MM-DD (default: the published as-of date)")
    report.set_defaults(func=cmd_report)

    maps = sub.add_parser("mapping", help="try or propose a mapping for your export")
    maps_sub = maps.add_subparsers(dest="mapping_command", required=True)
    check = maps_sub.add_parser(
        "check", help="dry run: how the export maps, what would be quarantined (no warehouse)"
    )
    check.add_argument("--mapping", required=True, help="a mapping file or preset")
    check.add_argument("--input", required=True, help="your export: a file or a folder")
    check.add_argument("--rows", type=int, default=5, help="rows shown as mapped (default 5)")
    check.set_defaults(func=cmd_mapping_check)
    propose = maps_sub.add_parser("suggest", help="propose a mapping YAML from the headers")
    propose.add_argument("--input", required=True, help="your export: a file or a folder")
    propose.add_argument("--output", help="write the proposal here (default: print it)")
    propose.set_defaults(func=cmd_mapping_suggest)

    serve = with_home(sub.add_parser("serve", help="start the Dagster UI"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.set_defaults(func=cmd_serve)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
