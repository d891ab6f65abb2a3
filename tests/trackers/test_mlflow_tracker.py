"""The MLflow tracker against a real file store, read back with MLflow's own client."""

from __future__ import annotations

import json
import logging
import time

import pytest

from asffbench.trackers.ids import stored_id
from asffbench.trackers.mlflow_tracker import CUT_MARK, default_uri, start_mlflow
from asffbench.trackers.open import open_trackers
from asffbench.trackers.options import MlflowOptions, TrackerSettings
from asffbench.trackers.run_info import RunOutcome
from tests.trackers.conftest import LONG_VALUE, STEP_LINES, history, identity, only_run

pytest.importorskip("mlflow")


def test_one_mlflow_run_with_the_params_tags_metrics_and_artifacts(tmp_path, mlflow_client):
    run_dir = tmp_path / "ablation" / "fusion=asff"
    run_dir.mkdir(parents=True)
    (run_dir / "record.json").write_text(json.dumps({"status": "completed"}))
    (run_dir / "config.yaml").write_text("seed: 0\n")
    tracker = start_mlflow(MlflowOptions(), identity(run_dir))
    for line in STEP_LINES:
        tracker.log_line(line)
    tracker.finish(RunOutcome("completed", {"AP": 0.25, "gflops": 1.5, "fps": 30.0}))
    tracker.close()

    uri = default_uri(run_dir)
    assert uri == (tmp_path / "ablation" / "mlruns").as_uri()  # the sweep directory's file store
    client = mlflow_client(uri)
    run = only_run(client, "ablation")  # the experiment is the sweep
    assert run.info.run_name == "fusion=asff" and run.info.status == "FINISHED"
    params = run.data.params
    assert params["fusion.name"] == "asff" and params["fusion.compress_c"] == "16"
    assert params["model.anchors"] == "[[10, 13], [16, 30]]" and params["many.k149"] == "149"
    assert len(params) == 3 + 1 + 150  # more than one batch of 100
    assert len(params["notes.long"]) == 6000 and params["notes.long"].endswith(CUT_MARK)
    assert LONG_VALUE.startswith(params["notes.long"][: -len(CUT_MARK)])
    tags = run.data.tags
    assert (tags["experiment_hash"], tags["run_name"], tags["sweep"], tags["axis.fusion"], tags["status"]) == (
        "0123456789abcdef", "fusion=asff", "ablation", "asff", "completed")
    assert history(client, run.info.run_id, "train/loss") == [(0, 4.0), (1, 3.0)]
    assert history(client, run.info.run_id, "epoch/loss") == [(0, 3.5)]
    assert history(client, run.info.run_id, "eval/AP") == [(0, 0.125)]
    assert [m.timestamp for m in client.get_metric_history(run.info.run_id, "train/loss")] == [1_000_000, 1_001_000]
    assert run.data.metrics["AP"] == 0.25 and run.data.metrics["gflops"] == 1.5 and run.data.metrics["fps"] == 30.0
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == ["config.yaml", "record.json"]
    assert stored_id(run_dir, "mlflow") == {"run_id": run.info.run_id, "uri": uri, "experiment_id": run.info.experiment_id}


def test_a_resumed_run_continues_its_mlflow_run_and_a_fresh_one_opens_another(tmp_path, mlflow_client):
    run_dir = tmp_path / "runs" / "loose"
    first = start_mlflow(MlflowOptions(), identity(run_dir, swept=False))
    first.log_line(STEP_LINES[2])
    first.close()  # cut short: KILLED until it resumes
    client = mlflow_client(default_uri(run_dir))
    killed = only_run(client, "asffbench")  # a loose run's experiment
    assert killed.info.status == "KILLED"

    resumed = start_mlflow(MlflowOptions(), identity(run_dir, resume=True, swept=False))
    assert resumed.session.run_id == killed.info.run_id
    assert client.get_run(killed.info.run_id).info.status == "RUNNING"
    resumed.log_line({**STEP_LINES[2], "epoch": 1, "loss": 2.5})
    resumed.finish(RunOutcome("failed", {}))
    again = only_run(client, "asffbench")
    assert again.info.status == "FAILED" and history(client, again.info.run_id, "epoch/loss") == [(0, 3.5), (1, 2.5)]

    start_mlflow(MlflowOptions(), identity(run_dir, resume=False, swept=False)).close()  # train.resume=false
    experiment = client.get_experiment_by_name("asffbench").experiment_id
    assert len(client.search_runs([experiment])) == 2


def test_an_unreachable_server_is_one_warning_line(tmp_path, caplog):
    settings = TrackerSettings(mlflow=MlflowOptions(uri="http://127.0.0.1:9"))  # loopback, nothing listens
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        trackers = open_trackers(settings, identity(tmp_path / "sweep" / "run"))
    assert trackers.names == () and time.monotonic() - started < 30
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and lines[0].startswith("logger=mlflow: not started (MlflowException: ") and \
        lines[0].endswith("the run goes on without it") and "\n" not in lines[0], lines
    assert stored_id(tmp_path / "sweep" / "run", "mlflow") is None


def test_a_stored_run_that_cannot_be_read_gives_way_to_a_new_one(tmp_path, mlflow_client, caplog):
    run_dir = tmp_path / "runs" / "torn"
    first = start_mlflow(MlflowOptions(), identity(run_dir, swept=False))
    first.log_line(STEP_LINES[2])
    first.close()
    client = mlflow_client(default_uri(run_dir))
    torn = only_run(client, "asffbench")
    (metric,) = (tmp_path / "runs" / "mlruns").glob(f"*/{torn.info.run_id}/metrics/epoch/iters")
    metric.write_text("")  # what a kill -9 inside a file-store write leaves
    with caplog.at_level(logging.WARNING):
        resumed = start_mlflow(MlflowOptions(), identity(run_dir, resume=True, swept=False))
    assert resumed.session.run_id != torn.info.run_id
    assert stored_id(run_dir, "mlflow")["run_id"] == resumed.session.run_id
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith(f"logger=mlflow: stored run {torn.info.run_id} not continued, a new one is opened (")
