"""The home's Dagster event log (orchestration/operations/event_log.py): Dagster's SQLite files,
written through kept connections, read by Dagster's own storage as before."""

from __future__ import annotations

import inspect

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from orchestration import settings
from orchestration.operations import event_log
from orchestration.operations.event_log import ClienteleEventLogStorage
from orchestration.operations.nights import prepare_dagster_home


@dg.asset
def counted() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})


@dg.asset_check(asset=counted)
def counted_is_positive() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


JOB = dg.Definitions(
    assets=[counted], asset_checks=[counted_is_positive], jobs=[dg.define_asset_job("j")]
).resolve_job_def("j")


def test_the_private_dagster_piece_the_event_log_overrides_still_exists():
    """``_connect(shard)`` is where Dagster's SQLite event log gets every connection; an upgrade
    that renames it would silently bring back a connection per write."""
    parameters = inspect.signature(SqliteEventLogStorage._connect).parameters
    assert list(parameters) == ["self", "shard"]
    source = inspect.getsource(SqliteEventLogStorage)
    assert "self._connect(" in source and "self._initialized_dbs" in source


def test_a_home_writes_events_dagsters_own_storage_reads(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = prepare_dagster_home(settings.activate(str(tmp_path / "home")))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, ClienteleEventLogStorage)
        results = [JOB.execute_in_process(instance=instance) for _ in range(3)]
    assert all(r.success for r in results)

    plain = SqliteEventLogStorage(str(home / "history" / "runs"))
    for result in results:
        logged = {r.dagster_event.event_type_value for r in plain.get_logs_for_run(result.run_id)}
        assert {"ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION", "PIPELINE_SUCCESS"} <= logged
    latest = plain.get_latest_materialization_events([dg.AssetKey("counted")])
    assert latest[dg.AssetKey("counted")].run_id == results[-1].run_id
    assert len(plain.get_asset_records([dg.AssetKey("counted")])) == 1


def test_open_databases_stay_bounded_and_a_wipe_starts_new_files(tmp_path, monkeypatch):
    monkeypatch.setattr(event_log, "OPEN_DATABASES", 2)
    overrides = {
        "event_log_storage": {
            "module": "orchestration.operations.event_log",
            "class": "ClienteleEventLogStorage",
            "config": {"base_dir": str(tmp_path / "runs")},
        }
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        storage = instance.event_log_storage
        run_ids = [JOB.execute_in_process(instance=instance).run_id for _ in range(4)]
        assert len(storage._engines) <= 2
        assert all(storage.get_logs_for_run(run_id) for run_id in run_ids)  # reopened as needed

        storage.wipe()
        assert set(storage._engines) <= {"index"}  # no connection to a deleted run's file
        assert not storage.get_logs_for_run(run_ids[0])
        again = JOB.execute_in_process(instance=instance)
        assert again.success and storage.get_logs_for_run(again.run_id)
    assert not storage._engines  # closed with the instance
