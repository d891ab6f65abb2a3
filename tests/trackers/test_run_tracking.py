"""Trackers on real runs: a tiny training killed and resumed keeps one MLflow run and one W&B run
id; an unreachable MLflow server is one warning line and the run completes."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asffbench.trackers.events import line_metrics
from asffbench.trackers.ids import stored_id
from tests.runs.conftest import TINY_TRAIN, as_overrides
from tests.trackers.conftest import history, only_run
from tests.trackers.wandb_file import closed_records, offline_runs

TIMEOUT_S = 600


def train_log(run_dir: Path) -> list[dict]:
    log = run_dir / "train_log.jsonl"
    found = []
    for text in log.read_text().splitlines() if log.is_file() else []:
        try:
            found.append(json.loads(text))
        except ValueError:
            continue
    return found


def epoch_ends(run_dir: Path) -> list[int]:
    return [line["epoch"] for line in train_log(run_dir) if line.get("event") == "epoch_end"]


def mlflow_caught_up(store: Path, run_dir: Path) -> bool:
    """Whether the MLflow file store holds every metric of the first step line after epoch 0
    (the file store's writes are not atomic: a kill between two must not land inside one)."""
    line = next((x for x in train_log(run_dir) if x.get("event") is None and x.get("epoch") == 1), None)
    if line is None:
        return False
    for name in line_metrics(line).values:
        files = list(store.glob(f"*/*/metrics/{name}"))
        rows = [row.split() for f in files for row in f.read_text().splitlines()]
        if not any(len(row) == 3 and row[2] == str(line["iter"]) for row in rows):
            return False
    return True


@pytest.mark.slow
def test_a_killed_run_resumes_its_mlflow_and_wandb_runs(cli, tmp_path, mlflow_client):
    pytest.importorskip("wandb")
    run_dir = tmp_path / "runs" / "tiny"  # a loose run: experiment `asffbench`, store runs/mlruns
    store = tmp_path / "runs" / "mlruns"
    args = ["run", *as_overrides(TINY_TRAIN), "logger=[mlflow,wandb]", f"run_dir={run_dir}"]
    proc = subprocess.Popen([sys.executable, "-m", "asffbench.cli.app", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + TIMEOUT_S
        # Kill once epoch 0 is checkpointed and epoch 1's first step has reached MLflow: between
        # two tracker writes (the next one comes after a training step), before the run ends.
        while not ((run_dir / "checkpoints" / "last.pt").is_file() and mlflow_caught_up(store, run_dir)):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run never checkpointed"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    client = mlflow_client(store.as_uri())
    killed = only_run(client, "asffbench")
    assert killed.info.status == "RUNNING"  # kill -9: nobody closed it
    stored = stored_id(run_dir, "wandb")
    assert stored_id(run_dir, "mlflow")["run_id"] == killed.info.run_id

    code, out, err = cli(*args, "train.resume=true")
    assert code == 0, err
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "completed" and record["config"]["train"]["resume"] is True

    run = only_run(client, "asffbench")  # still one MLflow run: the resumed attempt continued it
    assert run.info.run_id == killed.info.run_id and run.info.status == "FINISHED"
    assert run.info.run_name == "tiny"
    params = run.data.params
    assert (params["model.name"], params["train.epochs"], params["img_size"], params["logger.mlflow.enabled"]) == (
        "tiny", "2", "64", "true")
    assert run.data.tags["experiment_hash"] == record["experiment_hash"]
    assert [step for step, _ in history(client, run.info.run_id, "epoch/loss")] == [0, 1]  # each epoch once
    assert {step for step, _ in history(client, run.info.run_id, "train/loss")} == {0, 1, 2, 3}
    metrics = run.data.metrics
    assert metrics["AP"] == pytest.approx(record["metrics"]["AP"])
    assert metrics["gflops"] == pytest.approx(record["bench"]["gflops"])
    assert metrics["fps"] == pytest.approx(record["bench"]["fps"])
    assert metrics["params"] == record["bench"]["params"]
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == ["config.yaml", "record.json"]
    artifact = Path(client.download_artifacts(run.info.run_id, "record.json", str(tmp_path / "download")))
    assert json.loads(artifact.read_text())["status"] == "completed"

    first, second = offline_runs(run_dir)  # one W&B run id in both attempts (`wandb sync` joins them)
    assert first.name == second.name == f"run-{stored['id']}.wandb"
    assert stored_id(run_dir, "wandb") == stored
    later = closed_records(second)
    (wandb_run,) = [r.run for r in later if r.WhichOneof("record_type") == "run"]
    assert (wandb_run.run_id, wandb_run.display_name, wandb_run.run_group) == (stored["id"], "tiny", "asffbench")
    epochs = [json.loads(i.value_json) for r in later if r.WhichOneof("record_type") == "history"
              for i in r.history.item if (i.key or ".".join(i.nested_key)) == "epoch"]
    assert epochs == [1]  # the resumed attempt logged epoch 1 only
    summary = {(i.key or ".".join(i.nested_key)): json.loads(i.value_json)
               for r in later if r.WhichOneof("record_type") == "summary" for i in r.summary.update}
    assert summary["AP"] == pytest.approx(record["metrics"]["AP"]) and summary["status"] == "completed"


@pytest.mark.slow
def test_an_unreachable_mlflow_server_is_one_warning_and_the_run_completes(cli, tmp_path, caplog):
    pytest.importorskip("mlflow")
    run_dir = tmp_path / "runs" / "tiny"
    overrides = as_overrides({**TINY_TRAIN, "train.epochs": 1})
    with caplog.at_level(logging.WARNING):
        code, out, err = cli("run", *overrides, "logger=[mlflow]", "logger.mlflow.uri=http://127.0.0.1:9",
                             f"run_dir={run_dir}")
    assert code == 0, err
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("logger=mlflow: not started"), warnings
    assert "Traceback" not in err
    assert json.loads((run_dir / "record.json").read_text())["status"] == "completed"
    assert epoch_ends(run_dir) == [0]
    assert not (run_dir / "trackers.json").exists()
