"""The HTML report (SPEC §9): self-contained, every chart present, rendered by a real browser.

Headless Chromium renders the report the nightly run wrote. Chromium is a Debian package
(`chromium`); the ``chromium`` fixture installs it when it is missing and the tests run as root,
and fails loudly otherwise: a report test that silently skips proves nothing.

"No network request" is checked twice: statically (the file references nothing outside itself:
no script, stylesheet, font, image or frame, no URL at all) and dynamically, from Chromium's own
network log (``--log-net-log``): every request the browser's network stack starts is logged with
its initiator, and a request made by the page carries the page's origin (file://) while the
browser's own background traffic (network time, component updates, account checks, which no
command-line flag fully silences) carries none. The page must start no request; a control page
with an image and a stylesheet from the web proves the check catches one. A dead proxy keeps
whatever Chromium tries on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.publish import EXPORTS, PUBLISHED
from orchestration.publish import read_publication, report
from orchestration.publish.report import REPORT_NAME
from tests.conftest import AS_OF

CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> Path:
    """/usr/bin/chromium, installed with apt-get when missing (root only); fails otherwise."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0:
        pytest.fail(
            f"{CHROMIUM} is missing and these tests are not root: install it with "
            "`apt-get install -y chromium` and run them again"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log = []
    # A fresh machine may have no package lists yet: install, else update and install.
    for command in (
        ["apt-get", "install", "-y", "chromium"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "chromium"],
    ):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
        log.append(f"$ {' '.join(command)} -> {result.returncode}\n{result.stderr[-1500:]}")
        if command[1] == "install" and result.returncode == 0 and CHROMIUM.exists():
            return CHROMIUM
    pytest.fail("could not install chromium:\n" + "\n".join(log))


@pytest.fixture(scope="session")
def chromium() -> Path:
    return ensure_chromium()


def page_requests(netlog: Path) -> list[str]:
    """The URLs the page itself requested, from a Chromium NetLog (JSON).

    The page's requests have its origin as initiator ("null" for a file:// page) and a network
    isolation key of the page's site; the browser's own have initiator "not an origin".
    """
    log = json.loads(netlog.read_text(encoding="utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] != start_job or "url" not in params:
            continue
        from_page = params.get("initiator") != "not an origin" or "file://" in str(
            params.get("network_isolation_key", "")
        )
        if from_page:
            urls.append(params["url"])
    return urls


def render(chromium: Path, page: Path, workdir: Path) -> tuple[str, list[str]]:
    """The DOM of ``page`` after headless Chromium loaded it, and the URLs the page requested."""
    workdir.mkdir(parents=True, exist_ok=True)
    netlog = workdir / "netlog.json"
    result = subprocess.run(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={workdir / 'profile'}",
            # Nothing leaves the machine: every HTTP(S) request goes to a closed local port.
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            f"--log-net-log={netlog}",
            "--net-log-capture-mode=Default",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert netlog.exists(), "Chromium wrote no network log"
    return result.stdout, page_requests(netlog)


class Inventory(HTMLParser):
    """Tags, attributes and chart SVGs of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str | None]] = []
        self.charts: dict[str, int] = {}
        self.titles: set[str] = set()
        self._chart: str | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.extend((tag, name, value) for name, value in attrs)
        values = dict(attrs)
        if tag == "svg" and "chart" in (values.get("class") or "").split():
            self._chart, self._depth = values["id"], 0
            self.charts[self._chart] = 0
        elif self._chart is not None:
            self.charts[self._chart] += 1
            if tag == "title":
                self.titles.add(self._chart)
        if tag == "svg":
            self._depth += 1

    def handle_endtag(self, tag):
        if tag == "svg" and self._chart is not None:
            self._depth -= 1
            if self._depth == 0:
                self._chart = None


def inventory(document: str) -> Inventory:
    parser = Inventory()
    parser.feed(document)
    return parser


@pytest.fixture(scope="module")
def report_path(pipeline) -> Path:
    return pipeline.export_dir(AS_OF.isoformat()) / REPORT_NAME


def test_the_nightly_run_wrote_a_self_contained_report(report_path):
    document = report_path.read_text(encoding="utf-8")
    found = inventory(document)
    assert set(found.charts) == set(report.CHART_IDS)
    assert set(found.titles) == set(report.CHART_IDS), "every chart has an accessible title"
    # Nothing that could load anything: no script, stylesheet link, image, frame or object,
    # no src/href attribute, no CSS url() or @import, no URL at all.
    assert not found.tags & {"script", "link", "img", "iframe", "object", "embed", "image"}
    assert not [a for a in found.attributes if a[1] in {"src", "href", "srcset", "xlink:href"}]
    for forbidden in ("url(", "@import", "http://", "https://", "//cdn", "@font-face"):
        assert forbidden not in document, forbidden
    assert f"customer report for {AS_OF.isoformat()}" in document


def test_the_report_renders_in_headless_chromium_without_network(chromium, report_path, tmp_path):
    dom, requests = render(chromium, report_path, tmp_path / "chromium")
    assert requests == [], f"the report made network requests: {requests}"
    found = inventory(dom)
    assert set(found.charts) == set(report.CHART_IDS), "a chart is missing from the rendered DOM"
    empty = [chart for chart, children in found.charts.items() if children < 2]
    assert not empty, f"charts rendered without content: {empty}"
    for section in (
        "headline",
        "segments",
        "loyalty",
        "buying-centre",
        "whale",
        "cohorts",
        "migration",
        "backtest",
        "quality",
    ):
        assert f'id="{section}"' in dom, section


def test_the_network_check_catches_a_page_that_loads_something(chromium, tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="stylesheet" '
        'href="https://cdn.example.invalid/style.css"></head>'
        '<body><img src="http://example.invalid/pixel.png"><p>leaky</p></body></html>',
        encoding="utf-8",
    )
    _, requests = render(chromium, page, tmp_path / "chromium")
    assert "http://example.invalid/pixel.png" in requests
    assert "https://cdn.example.invalid/style.css" in requests


def latest_materialization(asset_key: dg.AssetKey, **expected) -> dict:
    """The metadata of the newest materialization of ``asset_key`` whose metadata holds
    ``expected`` (the session's instance also records other homes' runs)."""
    records = (
        dg.DagsterInstance.get()
        .fetch_materializations(dg.AssetRecordsFilter(asset_key=asset_key), limit=100)
        .records
    )
    for record in records:
        metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        if all(metadata.get(k) == v for k, v in expected.items()):
            return metadata
    raise AssertionError(f"no materialization of {asset_key} with {expected}")


def test_the_publish_assets_link_the_report_and_the_file(pipeline, report_path):
    exports = latest_materialization(EXPORTS, exports=str(pipeline.export_dir(AS_OF.isoformat())))
    assert exports["report"] == str(report_path)
    assert exports["report_url"] == report_path.as_uri()
    assert exports["as_of_date"] == AS_OF.isoformat()
    assert exports["published"] is True
    published = latest_materialization(PUBLISHED, published_file=str(pipeline.published))
    assert published["as_of_date"] == AS_OF.isoformat()


def test_migration_charts_draw_the_moves_when_there_are_some(pipeline, tmp_path, chromium):
    """The session has one as-of date, so its migration charts are placeholders; here a copy
    of the publication gets moves between two dates and the charts draw them."""
    database = tmp_path / "clientele.duckdb"
    shutil.copy(pipeline.published, database)
    previous = AS_OF.replace(day=1)
    with duckdb.connect(str(database)) as con:
        con.executemany(
            "insert into main.segment_migration by name select ? as as_of_date, "
            "? as previous_as_of_date, ? as scheme, ? as from_label, ? as to_label, "
            "? as is_move, ? as customers, ? as from_customers, ? as share_of_from",
            [
                [AS_OF, previous, "lifecycle", "loyal", "loyal", False, 90, 100, 0.9],
                [AS_OF, previous, "lifecycle", "loyal", "lapsed", True, 10, 100, 0.1],
                [AS_OF, previous, "lifecycle", "not_known", "new", True, 5, 5, 1.0],
                [AS_OF, previous, "value_tier", "most_valuable", "below_zero", True, 3, 3, 1.0],
            ],
        )
    out = report.write_report(database, tmp_path / "report.html")
    dom, requests = render(chromium, out, tmp_path / "chromium")
    assert requests == []
    found = inventory(dom)
    assert set(found.charts) == set(report.CHART_IDS)
    assert found.charts["chart-migration-lifecycle"] > found.charts["chart-migration-value_tier"]
    assert "Loyal → Lapsed: 10" in dom
    assert f"label on {previous.isoformat()}" in dom
    assert "no earlier as-of date" not in dom


def chart_svg(document: str, chart_id: str) -> str:
    """The markup of one chart (charts hold no nested svg)."""
    start = document.index(f'<svg id="{chart_id}"')
    return document[start : document.index("</svg>", start)]


def test_a_month_to_date_is_drawn_open_not_as_a_whole_month(pipeline, report_path, tmp_path):
    """The session's D closes its month: every month is whole. A copy of the publication whose
    last month is month to date (D on the 12th) draws that month open, named MTD."""
    whole = report_path.read_text(encoding="utf-8")
    assert 'class="partial"' not in whole and " MTD" not in whole
    database = tmp_path / "clientele.duckdb"
    shutil.copy(pipeline.published, database)
    with duckdb.connect(str(database)) as con:
        month, label = con.execute(
            """update main.kpi_monthly
               set is_partial_month = true, days_covered = 12,
                   month_end = cast(month + interval 11 day as date),
                   month_label = strftime(month, '%Y-%m') || ' MTD'
               where month = (select max(month) from main.kpi_monthly)
               returning month, month_label"""
        ).fetchone()
    assert label == f"{month:%Y-%m} MTD"
    document = report.write_report(database, tmp_path / "report.html").read_text(encoding="utf-8")
    money = chart_svg(document, "chart-monthly-money")
    assert money.count('<circle class="partial"') == 3  # revenue, gross margin, contribution
    assert money.count('class="partial"') == 3  # and not joined to the whole months' lines
    assert label in money and f"{label} (incomplete)" in money
    customers = chart_svg(document, "chart-monthly-customers")
    assert customers.count('class="partial"') == 4  # active, new, lapsed, reborn
    assert label in customers
    assert f"{label} is month to date (days 1–12 of the month)" in document
    assert f"in {label}" in document  # the churn card names the month to date


def test_cli_report_regenerates_from_the_published_file_or_the_exports(pipeline, tmp_path):
    home = tmp_path / "home"
    export_dir = home / "exports" / AS_OF.isoformat()
    shutil.copytree(pipeline.export_dir(AS_OF.isoformat()), export_dir)
    (export_dir / REPORT_NAME).unlink()

    def cli(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "orchestration.cli", "report", "--home", str(home)]
        return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)

    missing = cli()
    assert missing.returncode == 1 and "no published file" in missing.stderr
    from_exports = cli("--as-of", AS_OF.isoformat())
    assert from_exports.returncode == 0, from_exports.stderr
    regenerated = (export_dir / REPORT_NAME).read_text(encoding="utf-8")
    assert set(inventory(regenerated).charts) == set(report.CHART_IDS)

    (home / "published").mkdir()
    shutil.copy(pipeline.published, home / "published" / "clientele.duckdb")
    (export_dir / REPORT_NAME).unlink()
    published = cli()
    assert published.returncode == 0, published.stderr
    assert str(export_dir / REPORT_NAME) in published.stdout
    run_id = read_publication(pipeline.published)["run_id"]
    assert run_id in (export_dir / REPORT_NAME).read_text(encoding="utf-8")
    other = cli("--as-of", "2001-01-01")
    assert other.returncode == 1 and "neither published" in other.stderr
