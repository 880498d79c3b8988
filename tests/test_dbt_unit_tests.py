"""dbt tests of the SQL itself run here, in `make test`: the unit tests (segment and scorecard
rules on fixed inputs) and the data tests tagged ``grain`` (a GROUP BY's keys are unique).

The nightly ``dbt build`` leaves them out: they test SQL logic, not the night's data, and cost
seconds every night. They run against a copy of the session pipeline's warehouse (the unit
tests need the models' parents for column types; the grain tests need the built models), so
the original stays open read-only.
"""

from __future__ import annotations

import json
import shutil

from orchestration.settings import DBT_PROJECT_DIR
from tests.conftest import AS_OF, run_dbt


def test_every_dbt_unit_test_and_grain_test_passes(pipeline, tmp_path):
    home = tmp_path / "home"
    (home / "warehouse").mkdir(parents=True)
    shutil.copy(pipeline.warehouse, home / "warehouse" / pipeline.warehouse.name)
    target = tmp_path / "target"
    run_dbt(
        home,
        "test",
        "--select",
        "test_type:unit",
        "tag:grain",
        variables={"as_of": AS_OF.isoformat()},
        target=target,
    )
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    defined = set(manifest["unit_tests"])
    grain = {uid for uid, node in manifest["nodes"].items() if "grain" in node.get("tags", [])}
    # the project's on-run-start hook (it registers Spark's sources; nothing on DuckDB) is no test
    ran = {
        r["unique_id"]: r["status"] for r in results if not r["unique_id"].startswith("operation.")
    }
    assert len(defined) >= 18
    assert len(grain) == 2
    assert set(ran) == defined | grain
    assert set(ran.values()) == {"pass"}


def test_the_nightly_build_leaves_unit_and_grain_tests_out(pipeline):
    """The job's dbt steps ran data tests only, and none tagged ``grain``."""
    generated = pipeline.raw.stat().st_mtime  # before the run; older folders are other runs'
    folders = [
        path
        for path in (DBT_PROJECT_DIR / "target").glob("latest_dbt_*/run_results.json")
        if path.stat().st_mtime > generated
    ]
    assert len(folders) >= 2, "no dbt run results from the session's pipeline"
    ran = {
        r["unique_id"]
        for path in folders
        for r in json.loads(path.read_text(encoding="utf-8"))["results"]
    }
    kinds = {uid.split(".")[0] for uid in ran}
    assert "test" in kinds and "unit_test" not in kinds
    assert not [uid for uid in ran if "unique_combination_int_customer_orders" in uid]
    assert not [uid for uid in ran if "unique_combination_int_purchase_occasions" in uid]
