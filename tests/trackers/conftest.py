"""Helpers for the tracker tests: a run identity without training, and MLflow's own client."""

from __future__ import annotations

from pathlib import Path

import pytest

from asffbench.trackers.run_info import TrackedRun, tracked_run

# A config with a value longer than MLflow keeps (6000 characters) and more keys than one batch (100).
LONG_VALUE = "x" * 7000
CONFIG = {"fusion": {"name": "asff", "compress_c": 16}, "model": {"anchors": [[10, 13], [16, 30]]},
          "notes": {"long": LONG_VALUE}, "many": {f"k{i:03d}": i for i in range(150)}}
STEP_LINES = [
    {"epoch": 0, "iter": 0, "loss": 4.0, "loss_parts": {"xy": 2.0}, "lr": 0.1, "images_per_s": 8.0, "time": 1000.0},
    {"epoch": 0, "iter": 1, "loss": 3.0, "loss_parts": {"xy": 1.5}, "lr": 0.1, "images_per_s": 9.0, "time": 1001.0},
    {"epoch": 0, "event": "epoch_end", "time": 1002.0, "loss": 3.5, "iters": 2},
    {"epoch": 0, "event": "eval", "time": 1003.0, "metrics": {"AP": 0.125, "metric": "coco"}},
]


def identity(run_dir: Path, resume: bool = False, swept: bool = True) -> TrackedRun:
    return tracked_run(CONFIG, run_dir, experiment_hash="0123456789abcdef", axes={"fusion": "asff"},
                       swept=swept, resume=resume)


@pytest.fixture
def mlflow_client(monkeypatch):
    """MLflow's own client for a store (`client(uri)`), its file store allowed."""
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")

    def client(uri: str):
        return mlflow.tracking.MlflowClient(tracking_uri=uri)

    return client


def only_run(client, experiment: str):
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment!r}"
    runs = client.search_runs([found.experiment_id])
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


def history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
