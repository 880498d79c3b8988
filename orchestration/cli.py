"""``clientele``: the pipeline for people without the Dagster UI.

clientele generate --customers 500 --seed 7 [--days 1095] [--end D] [--dirt] [--home DIR]
clientele run [--as-of D] [--home DIR]
clientele allocate --slots 10 --policy top_clv [--seed S] [--exclude X ...] [--home DIR]
clientele report [--as-of D] [--home DIR]
clientele serve [--home DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from orchestration import settings

DAGSTER_YAML = """\
# Written by clientele: the working DuckDB file takes one writer at a time.
concurrency:
  pools:
    default_limit: 1
  runs:
    tag_concurrency_limits:
      - key: "clientele/warehouse"
        limit: 1
telemetry:
  enabled: false
"""


def prepare_dagster_home(paths: settings.Paths) -> Path:
    """A Dagster instance folder inside the clientele home, set up for one writer at a time."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def latest_data_date(paths: settings.Paths) -> dt.date:
    """The as-of date of a manual run: the newest drop date of the orders source."""
    from orchestration.ingest import find_drops

    drops = find_drops(paths.source_dir("orders"))
    if not drops:
        raise SystemExit(f"clientele: no order drops under {paths.source_dir('orders')}")
    return max(drops)


def cmd_generate(args: argparse.Namespace) -> int:
    from orchestration.generate import generate

    paths = settings.activate(args.home)
    end = dt.date.fromisoformat(args.end) if args.end else None
    summary = generate(
        paths, customers=args.customers, seed=args.seed, days=args.days, end=end, dirt=args.dirt
    )
    print(summary)
    print(f"raw drops written under {paths.raw}")
    return 0


def run_pipeline(paths: settings.Paths, as_of: dt.date):
    """Materialize every asset of the nightly job for ``as_of`` in this process."""
    import dagster as dg

    prepare_dagster_home(paths)
    from orchestration.definitions import defs

    job = defs().resolve_job_def("clientele_nightly")
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(
            partition_key=as_of.isoformat(),
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )


def cmd_run(args: argparse.Namespace) -> int:
    paths = settings.activate(args.home)
    if bool(args.mapping) != bool(args.input):
        raise SystemExit("clientele: --mapping and --input go together")
    if args.mapping:
        from orchestration import mapping

        try:
            chosen = mapping.load(args.mapping)
            placed = mapping.import_input(chosen, Path(args.input).resolve(), paths.raw)
        except (mapping.MappingError, mapping.IngestError) as exc:
            print(f"clientele: {exc}", file=sys.stderr)
            return 2
        print(f"clientele: mapping '{chosen.name}' imported {len(placed)} file(s) into {paths.raw}")
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else latest_data_date(paths)
    print(f"clientele: running every asset for as-of date {as_of} (home {paths.home})")
    result = run_pipeline(paths, as_of)
    if not result.success:
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        print(f"clientele: run FAILED (steps: {', '.join(failed) or 'see log'})", file=sys.stderr)
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data.error:
                print(event.step_failure_data.error.message.strip(), file=sys.stderr)
        return 1
    export_dir = paths.export_dir(as_of.isoformat())
    print(f"clientele: done. Warehouse (pipeline only): {paths.warehouse}")
    print(f"  published for BI:  {paths.published}")
    print(f"  scorecards:        {export_dir}/loyalty_scorecard.csv, profitability_scorecard.csv")
    print(f"  report:            {export_dir}/report.html")
    return 0


# The offer policies (orchestration.offers.POLICIES, repeated so --help needs no pandas import).
POLICIES = ("top_revenue_12m", "top_revenue_lifetime", "top_clv", "top_value_at_risk", "lottery")


def cmd_allocate(args: argparse.Namespace) -> int:
    """Run the allocate_offer job in-process (recorded in Dagster) and print the ranked list."""
    import dagster as dg

    from orchestration import offers

    paths = settings.activate(args.home)
    prepare_dagster_home(paths)
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
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            run_config={
                "ops": {"allocate_offer_op": {"config": config}},
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
            },
            instance=instance,
            raise_on_error=False,
        )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data.error:
                print(event.step_failure_data.error.message.strip(), file=sys.stderr)
        print("clientele: allocation FAILED", file=sys.stderr)
        return 1
    print(result.output_for_node("allocate_offer_op"))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Regenerate exports/<D>/report.html from the published file (or D's Parquet exports)."""
    from orchestration.report import report_for

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
    prepare_dagster_home(paths)
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
    run.add_argument(
        "--mapping",
        help="a mapping file or preset (invoice_lines, order_level, "
        "legacy_text) to import --input with",
    )
    run.add_argument("--input", help="your export: a file or a folder")
    run.set_defaults(func=cmd_run)

    alloc = with_home(sub.add_parser("allocate", help="allocate a limited offer (SPEC §6)"))
    alloc.add_argument("--slots", type=int, required=True, help="how many customers get it")
    alloc.add_argument(
        "--policy",
        default="top_clv",
        choices=POLICIES,
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
