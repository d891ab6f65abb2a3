"""`report --mlflow URI`: a finished sweep's records pushed into MLflow after the fact, once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from asffbench.trackers.mlflow_push import PUSH_TAG, push_records
from tests.trackers.conftest import STEP_LINES, history

pytest.importorskip("mlflow")
FIXTURES = Path(__file__).resolve().parents[1] / "results" / "fixtures"


def write_run(sweep: Path, name: str, status: str = "completed") -> Path:
    run_dir = sweep / name
    run_dir.mkdir(parents=True)
    record = {"schema_version": 1, "status": status, "experiment_hash": f"{len(name):016x}", "sweep": sweep.name,
              "axes": {"fusion": name}, "config": {"fusion": {"name": name}, "seed": 0},
              "metrics": {"AP": 0.3, "AP50": 0.5}, "bench": {"params": 1000, "gflops": 2.0, "fps": 50.0},
              "train_seconds": 60.0, "started": "2026-01-01T10:00:00+00:00", "finished": "2026-01-01T10:01:00+00:00"}
    (run_dir / "record.json").write_text(json.dumps(record))
    (run_dir / "config.yaml").write_text(f"fusion:\n  name: {name}\n")
    (run_dir / "train_log.jsonl").write_text("".join(json.dumps(line) + "\n" for line in STEP_LINES))
    return run_dir / "record.json"


def test_a_sweep_is_pushed_once_with_the_live_mapping(tmp_path, mlflow_client):
    sweep = tmp_path / "ablation"
    records = [write_run(sweep, "asff"), write_run(sweep, "none", status="failed"),
               write_run(sweep, "sum", status="running")]
    uri = (tmp_path / "store").as_uri()
    first = push_records(records, uri)
    assert (first.pushed, first.present, first.unfinished) == (records[:2], [], records[2:])
    assert first.statement() == f"mlflow: 2 run(s) pushed, 0 already there, 1 not finished -> {uri}"

    client = mlflow_client(uri)
    experiment = client.get_experiment_by_name("ablation").experiment_id
    runs = {r.info.run_name: r for r in client.search_runs([experiment])}
    assert sorted(runs) == ["asff", "none"]
    asff = runs["asff"]
    assert asff.info.status == "FINISHED" and runs["none"].info.status == "FAILED"
    assert (asff.info.start_time, asff.info.end_time) == (1767261600000, 1767261660000)  # the record's times
    assert asff.data.params == {"fusion.name": "asff", "seed": "0"}
    assert (asff.data.tags["axis.fusion"], asff.data.tags["experiment_hash"], asff.data.tags[PUSH_TAG]) == (
        "asff", f"{4:016x}", "done")
    assert history(client, asff.info.run_id, "train/loss") == [(0, 4.0), (1, 3.0)]  # the train log replayed
    assert history(client, asff.info.run_id, "eval/AP") == [(0, 0.125)]
    assert (asff.data.metrics["AP"], asff.data.metrics["gflops"], asff.data.metrics["fps"]) == (0.3, 2.0, 50.0)
    assert sorted(a.path for a in client.list_artifacts(asff.info.run_id)) == ["config.yaml", "record.json"]

    again = push_records(records, uri)  # idempotent
    assert (again.pushed, again.present) == ([], records[:2])
    assert len(client.search_runs([experiment])) == 2

    client.set_tag(asff.info.run_id, PUSH_TAG, "started")  # as a push cut short leaves it
    third = push_records(records, uri)
    assert third.pushed == records[:1]
    runs = client.search_runs([experiment])
    assert len(runs) == 2 and all(r.data.tags[PUSH_TAG] == "done" for r in runs)


@pytest.mark.slow
def test_report_pushes_a_sweep_into_mlflow(cli, tmp_path, mlflow_client, one_line_error):
    sweep = tmp_path / "size_sweep"
    shutil.copytree(FIXTURES / "size_sweep", sweep)
    uri = (tmp_path / "store").as_uri()
    args = ["report", str(sweep), "-n", "0", "--no-errors", "--mlflow", uri]
    code, out, err = cli(*args)
    assert code == 0, err
    assert f"mlflow: 3 run(s) pushed, 0 already there, 0 not finished -> {uri}" in out
    code, out, err = cli(*args)
    assert code == 0 and "mlflow: 0 run(s) pushed, 3 already there" in out, err
    client = mlflow_client(uri)
    runs = client.search_runs([client.get_experiment_by_name("size_sweep").experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["s320", "s416", "s608"]
    assert sorted(r.data.tags["axis.img_size"] for r in runs) == ["320", "416", "608"]
    one_line_error(*cli("report", str(sweep), "-n", "0", "--no-errors", "--mlflow", "http://127.0.0.1:9")[::2],
                   "report --mlflow http://127.0.0.1:9")
