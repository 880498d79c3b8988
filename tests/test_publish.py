"""Publication for BI (SPEC §9): the published DuckDB file, its atomic swap, and the exports.

Publishing is cheap (a second or two), so the tests call :func:`publish.publish` on the session
pipeline's warehouse into published files of their own, with other processes reading them.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import publish
from orchestration.ingest.contract import PII_COLUMNS
from orchestration.publish import (
    HISTORY_TABLE,
    LOG_NAME,
    PUBLISHED_TABLES,
    PiiLeakError,
    PublishedTable,
    PublishError,
    publication,
    read_publication,
)
from orchestration.publish import file as publish_file
from tests.conftest import AS_OF

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def published_tables(path: Path) -> dict[str, list[str]]:
    """Table -> columns of the main schema of a published file."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            """select table_name, column_name from duckdb_columns()
               where database_name = current_database() and schema_name = 'main'
               order by table_name, column_index"""
        ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def assert_complete(path: Path) -> dict:
    """The file is readable and every table holds the rows its publication row says."""
    publication = read_publication(path)
    with duckdb.connect(str(path), read_only=True) as con:
        for table, count in publication["row_counts"].items():
            assert con.execute(f'select count(*) from main."{table}"').fetchone()[0] == count
    return publication


@pytest.fixture
def previous(pipeline, tmp_path) -> Path:
    """A copy of the session's publication in a folder of its own: the one a failure must keep."""
    path = tmp_path / "published" / "clientele.duckdb"
    path.parent.mkdir()
    shutil.copy(pipeline.published, path)
    return path


def assert_intact(path: Path, before: dict) -> None:
    assert assert_complete(path) == before
    leftovers = sorted(
        p.name for p in path.parent.iterdir() if p not in (path, path.with_name(LOG_NAME))
    )
    assert leftovers == [], f"temporary files left behind: {leftovers}"


# ------------------------------------------------------------------ the session's publication


def test_the_nightly_run_published_every_table_for_its_date(pipeline, warehouse):
    publication = assert_complete(pipeline.published)
    assert publication["as_of_date"] == AS_OF
    assert publication["run_id"]
    tables = published_tables(pipeline.published)
    assert set(tables) == {spec.name for spec in PUBLISHED_TABLES} | {
        "publication",
        HISTORY_TABLE,
    }
    for spec in PUBLISHED_TABLES:
        source = warehouse.execute(
            """select column_name from duckdb_columns()
               where database_name = current_database() and schema_name = ?
                 and table_name = ? order by column_index""",
            [spec.schema, spec.name],
        ).fetchall()
        if not source:  # offers: published empty until the first allocation
            assert spec.empty_ddl and publication["row_counts"][spec.name] == 0
            continue
        assert tables[spec.name] == [c for (c,) in source if c not in PII_COLUMNS], spec.name
        count = warehouse.execute(f'select count(*) from {spec.schema}."{spec.name}"').fetchone()
        assert publication["row_counts"][spec.name] == count[0], spec.name


def test_exports_hold_every_table_as_parquet_and_csv(pipeline):
    export_dir = pipeline.export_dir(AS_OF.isoformat())
    publication = read_publication(pipeline.published)
    tables = published_tables(pipeline.published)
    with duckdb.connect() as con:
        for table in [*publication["row_counts"], "publication"]:
            parquet, text = export_dir / f"{table}.parquet", export_dir / f"{table}.csv"
            count = con.execute("select count(*) from read_parquet(?)", [str(parquet)]).fetchone()
            if table != "publication":
                assert count[0] == publication["row_counts"][table], table
            with text.open(newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle))
            assert header == tables[table], table
    assert not [p.name for p in export_dir.iterdir() if p.name.startswith(".")]


def test_no_pii_column_or_value_in_any_published_table_or_export(pipeline):
    """The generator's emails, names and phones (of customers and of the contacts at business
    accounts) appear nowhere a person or BI tool can read."""
    emails, names, phones = set(), set(), set()
    files = [*pipeline.raw.joinpath("customers").rglob("*.csv*")]
    files += [*pipeline.raw.joinpath("contacts").rglob("*.csv*")]
    assert any("contacts" in path.parts for path in files)
    for path in sorted(files):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", newline="", encoding="utf-8", errors="replace") as handle:
            for row in csv.DictReader(handle):
                emails.add((row.get("email") or "").strip())
                names.add((row.get("name") or "").strip())
                phones.add((row.get("phone") or "").strip())
    emails, names, phones = (s - {""} for s in (emails, names, phones))
    assert len(emails) > 100 and len(names) > 100 and len(phones) > 100

    texts: dict[str, str] = {}
    with duckdb.connect(str(pipeline.published), read_only=True) as con:
        for table, columns in published_tables(pipeline.published).items():
            assert not {c.strip().lower() for c in columns} & PII_COLUMNS, table
            texts[f"published:{table}"] = con.execute(f'select * from main."{table}"').df().to_csv()
    export_dir = pipeline.export_dir(AS_OF.isoformat())
    with duckdb.connect() as con:
        for path in sorted(export_dir.iterdir()):
            if path.suffix == ".parquet":
                frame = con.execute("select * from read_parquet(?)", [str(path)]).df()
                assert not {c.lower() for c in frame.columns} & PII_COLUMNS, path.name
                texts[path.name] = frame.to_csv()
            else:
                texts[path.name] = path.read_text(encoding="utf-8")
    assert "report.html" in texts
    for where, content in texts.items():
        assert not EMAIL.findall(content), f"an email address in {where}"
        leaked = [v for v in (*names, *phones) if v in content]
        assert not leaked, f"{where} holds contact details: {leaked[:5]}"


# ----------------------------------------------------------------- readers during a publish

# A reader process: "hold" keeps one read-only connection for its whole life (a BI tool left
# open); "poll" opens, reads and closes in a loop (a BI tool refreshing). Each read checks that
# the file is one complete publication: one run id, exactly the tables the publication row
# lists, each with the row count it states.
READER = r"""
import json, sys, time
from pathlib import Path
import duckdb

path, stop, out, mode = sys.argv[1:5]
seen, errors, reads = [], [], 0

def read(con):
    rows = con.execute("select run_id, table_name, row_count from main.publication").fetchall()
    run_ids = {r[0] for r in rows}
    assert len(run_ids) == 1, f"mixed run ids {run_ids}"
    tables = {r[0] for r in con.execute(
        "select table_name from duckdb_tables() "
        "where database_name = current_database() and schema_name = 'main'").fetchall()}
    assert tables == {r[1] for r in rows} | {"publication"}, f"tables {sorted(tables)}"
    for _, table, count in rows:
        got = con.execute(f'select count(*) from main."{table}"').fetchone()[0]
        assert got == count, f"{table}: {got} rows, publication says {count}"
    return run_ids.pop()

def record(run_id):
    if not seen or seen[-1] != run_id:
        seen.append(run_id)

held = duckdb.connect(path, read_only=True) if mode == "hold" else None
Path(out + ".ready").touch()
while not Path(stop).exists():
    try:
        if held is not None:
            record(read(held))
        else:
            con = duckdb.connect(path, read_only=True)
            try:
                record(read(con))
            finally:
                con.close()
        reads += 1
    except Exception as error:
        errors.append(repr(error))
    time.sleep(0.005)
Path(out).write_text(json.dumps({"seen": seen, "errors": errors[:20], "reads": reads}))
"""


def test_readers_never_block_a_publish_nor_see_a_partial_state(pipeline, previous, tmp_path):
    initial = read_publication(previous)["run_id"]
    stop = tmp_path / "stop"
    readers = {}
    for mode in ("hold", "poll"):
        out = tmp_path / f"{mode}.json"
        readers[mode] = (
            subprocess.Popen(
                [sys.executable, "-c", READER, str(previous), str(stop), str(out), mode]
            ),
            out,
        )
    deadline = time.monotonic() + 60
    while not all(Path(f"{out}.ready").exists() for _, out in readers.values()):
        assert time.monotonic() < deadline, "reader processes did not start"
        time.sleep(0.05)

    run_ids, durations = [], []
    try:
        for i in range(4):
            # Alternate full and partial table sets, so versions differ in shape too.
            tables = PUBLISHED_TABLES if i % 2 else PUBLISHED_TABLES[:6]
            run_ids.append(f"concurrent-{i}")
            started = time.monotonic()
            publish.publish(pipeline.warehouse, previous, AS_OF, run_ids[-1], tables=tables)
            durations.append(time.monotonic() - started)
            time.sleep(0.5)  # let the polling reader see this version
    finally:
        stop.touch()
        results = {}
        for mode, (process, out) in readers.items():
            process.wait(timeout=60)
            results[mode] = json.loads(out.read_text())

    assert max(durations) < 30, f"a publish waited for readers: {durations}"
    for mode, result in results.items():
        assert result["errors"] == [], f"{mode} reader: {result['errors']}"
        assert result["reads"] > 10, f"{mode} reader hardly read: {result}"
    # The open connection keeps reading the version it opened, complete and unchanged.
    assert results["hold"]["seen"] == [initial]
    # The polling reader moved from version to version, in order, never back.
    seen = results["poll"]["seen"]
    assert seen[0] == initial and len(seen) >= 3, seen
    assert seen[1:] == [r for r in run_ids if r in seen[1:]], seen
    assert read_publication(previous)["run_id"] == run_ids[-1]


# -------------------------------------------------------------- a failed publish changes nothing


def test_a_pii_leak_fails_loudly_and_keeps_the_previous_publication(
    pipeline, previous, tmp_path, monkeypatch
):
    before = read_publication(previous)
    export_dir = tmp_path / "exports"
    monkeypatch.setattr(publish_file, "strip_pii", lambda columns: (list(columns), []))
    tables = (*PUBLISHED_TABLES, PublishedTable("customers", schema="raw", dating=publish.UNDATED))
    with pytest.raises(PiiLeakError, match=r"customers\.email, customers\.name, customers\.phone"):
        publish.publish(
            pipeline.warehouse, previous, AS_OF, "leak", export_dir=export_dir, tables=tables
        )
    assert_intact(previous, before)
    assert not export_dir.exists(), "nothing is exported from a refused publication"


def test_pii_columns_are_removed_from_a_table_that_has_them(pipeline, previous):
    tables = (PublishedTable("customers", schema="raw", dating=publish.UNDATED),)
    result = publish.publish(pipeline.warehouse, previous, AS_OF, "stripped", tables=tables)
    assert sorted(result.removed_columns["customers"]) == sorted(PII_COLUMNS)
    columns = published_tables(previous)["customers"]
    assert "customer_id" in columns and not set(columns) & PII_COLUMNS


def test_an_error_mid_copy_keeps_the_previous_publication(pipeline, previous):
    before = read_publication(previous)
    tables = (*PUBLISHED_TABLES[:5], PublishedTable("no_such_table"), *PUBLISHED_TABLES[5:])
    with pytest.raises(PublishError, match="main.no_such_table is missing"):
        publish.publish(pipeline.warehouse, previous, AS_OF, "broken", tables=tables)
    assert_intact(previous, before)


def test_an_error_after_the_new_file_is_written_keeps_the_previous_one(
    pipeline, previous, tmp_path, monkeypatch
):
    before = read_publication(previous)

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(publication, "export_tables", disk_full)
    with pytest.raises(OSError, match="No space left"):
        publish.publish(
            pipeline.warehouse, previous, AS_OF, "late", export_dir=tmp_path / "exports"
        )
    assert_intact(previous, before)


def test_tables_of_another_date_are_not_published(pipeline, previous):
    before = read_publication(previous)
    with pytest.raises(PublishError, match="not computed for as-of date"):
        publish.publish(pipeline.warehouse, previous, AS_OF + dt.timedelta(days=1), "stale")
    assert_intact(previous, before)


def test_publish_asset_runs_after_every_table_it_publishes():
    from orchestration.definitions import defs
    from orchestration.defs.publish import EXPORTS, PUBLISHED, upstream_keys

    graph = defs().resolve_asset_graph()
    node = graph.get(PUBLISHED)
    assert node.group_name == "publish"
    assert set(node.parent_keys) == {EXPORTS}
    assert set(upstream_keys()) <= set(graph.get(EXPORTS).parent_keys)
    upstream = set(graph.upstream_key_iterator(PUBLISHED))
    for key in [
        ["main", "kpi_monthly"],
        ["main", "customer_scorecard"],
        ["model", "customer_clv"],
        ["model", "clv_backtest"],
        ["main", "customer_actions"],
        ["raw", "orders"],
    ]:
        assert dg.AssetKey(key) in upstream, key
    for table in ["kpi_monthly", "loyalty_scorecard", "whale_curve", "customer_scorecard"]:
        assert graph.get(dg.AssetKey(["main", table])).group_name == "scorecards"


def test_a_failed_blocking_check_publishes_nothing_and_keeps_the_previous_file(
    pipeline, tmp_path, monkeypatch
):
    """A duplicated customer in customer_facts fails gx_customer_facts in a Dagster run: the
    publish step does not run, and the previous publication stays intact and readable."""
    from orchestration import settings
    from orchestration.definitions import defs
    from orchestration.operations.nights import night_config, prepare_dagster_home

    home = tmp_path / "home"
    for sub in ("warehouse", "published"):
        shutil.copytree(getattr(pipeline, sub).parent, home / sub)
    monkeypatch.setenv("CLIENTELE_HOME", str(home))
    paths = settings.activate(home)
    before = assert_complete(paths.published)
    con = duckdb.connect(str(paths.warehouse))
    con.execute(  # customer_facts is a view of it
        "insert into intermediate.int_customer_facts "
        "select * from intermediate.int_customer_facts limit 1"
    )
    con.close()

    prepare_dagster_home(paths)
    check = dg.AssetCheckKey(dg.AssetKey(["main", "customer_facts"]), "gx_customer_facts")
    probe = dg.define_asset_job(
        "blocking_probe",
        selection=dg.AssetSelection.checks(check)
        | dg.AssetSelection.assets(dg.AssetKey(["published", "clientele"]))
        .required_multi_asset_neighbors()
        .without_checks(),
    )
    job = dg.Definitions.merge(defs(), dg.Definitions(jobs=[probe])).resolve_job_def(probe.name)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            run_config=night_config(AS_OF), instance=instance, raise_on_error=False
        )
    evaluations = result.get_asset_check_evaluations()
    assert [(e.asset_check_key, e.passed) for e in evaluations] == [(check, False)]
    assert not result.get_asset_materialization_events()
    assert_intact(paths.published, before)


# ---------------------------------------------------------- publication only moves forward


def history(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            f"select as_of_date, run_id from main.{HISTORY_TABLE} order by published_at, as_of_date"
        ).fetchall()


def test_an_older_date_writes_its_exports_and_leaves_the_published_file(
    pipeline, previous, tmp_path
):
    """A backfill for a date before the published one must not send BI back in time."""
    newer = AS_OF + dt.timedelta(days=1)
    previous.with_name(LOG_NAME).write_text(
        json.dumps(
            [
                {
                    "as_of_date": newer.isoformat(),
                    "run_id": "later",
                    "published_at": "2026-07-01T02:00:00",
                    "status": publish.PUBLISHED,
                }
            ]
        )
    )
    before = read_publication(previous)
    export_dir = tmp_path / "exports"
    result = publish.publish(pipeline.warehouse, previous, AS_OF, "backfill", export_dir=export_dir)
    assert not result.published and result.previous_as_of == newer
    assert_intact(previous, before)
    assert (export_dir / "customer_facts.parquet").exists() and result.report.exists()
    log = json.loads(previous.with_name(LOG_NAME).read_text())
    assert [(e["run_id"], e["status"]) for e in log] == [
        ("later", publish.PUBLISHED),
        ("backfill", publish.NOT_PUBLISHED),
    ]

    forced = publish.publish(pipeline.warehouse, previous, AS_OF, "forced", allow_older=True)
    assert forced.published
    assert read_publication(previous)["run_id"] == "forced"
    assert [run for _, run in history(previous)] == ["later", "forced"]


def test_the_history_keeps_the_latest_publication_of_each_date(pipeline, previous):
    initial = read_publication(previous)["run_id"]
    for run in ("first", "again"):
        publish.publish(pipeline.warehouse, previous, AS_OF, run)
    assert history(previous) == [(AS_OF, "again")]
    assert initial not in [run for _, run in history(previous)]


def test_a_swap_cut_short_is_settled_from_the_file(pipeline, previous):
    """A run killed between recording its publication and settling it: the next publication
    asks the file which run it holds."""
    held = read_publication(previous)
    log = [
        {
            "as_of_date": AS_OF.isoformat(),
            "run_id": held["run_id"],
            "published_at": "2026-07-01T02:00:00",
            "status": publish.PUBLISHING,
        },
        {
            "as_of_date": (AS_OF + dt.timedelta(days=3)).isoformat(),
            "run_id": "died-before-swap",
            "published_at": "2026-07-02T02:00:00",
            "status": publish.PUBLISHING,
        },
    ]
    settled = publish.settle(previous, log)
    assert [e["status"] for e in settled] == [publish.PUBLISHED, publish.ABANDONED]
    assert publish.published_as_of(settled) == AS_OF
    # Undecided while the file cannot be read: counted as published, never as absent.
    assert publish.published_as_of(publish.settle(previous.with_name("gone.duckdb"), log)) == (
        AS_OF + dt.timedelta(days=3)
    )
