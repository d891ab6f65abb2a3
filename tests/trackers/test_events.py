"""The trackers' shared parts: the train log's lines as metrics, the run's identity and outcome,
and the guard that keeps a failing tracker from touching the run."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from asffbench.engine.logging import TrainLogger
from asffbench.trackers.base import Tracker, TrackerSet
from asffbench.trackers.events import line_metrics
from asffbench.trackers.open import open_trackers
from asffbench.trackers.options import MlflowOptions, TrackerSettings, WandbOptions
from asffbench.trackers.run_info import (
    RunOutcome,
    flat_params,
    group_name,
    outcome_of_record,
    run_artifacts,
    tracked_record,
    tracked_run,
)


def test_a_step_line_is_train_metrics_at_its_iteration():
    line = {"epoch": 1, "iter": 7, "loss": 2.5, "loss_parts": {"xy": 1.0, "obj": 1.5}, "lr": 0.01,
            "images_per_s": 40.0, "time": 1.0}
    metrics = line_metrics(line)
    assert (metrics.axis, metrics.step) == ("iter", 7)
    assert metrics.values == {"train/loss": 2.5, "train/lr": 0.01, "train/images_per_s": 40.0,
                              "train/loss_xy": 1.0, "train/loss_obj": 1.5}


def test_epoch_and_eval_lines_are_metrics_at_their_epoch():
    end = {"epoch": 3, "event": "epoch_end", "time": 5.0, "loss": 1.25, "iters": 10, "amp": True,
           "peak_memory": {"device": "cpu", "rss_peak_mib": 900.0, "method": "VmHWM"}}
    metrics = line_metrics(end)
    assert (metrics.axis, metrics.step) == ("epoch", 3)
    assert metrics.values == {"epoch/loss": 1.25, "epoch/iters": 10.0, "epoch/peak_memory.rss_peak_mib": 900.0}
    evaluation = line_metrics({"epoch": 4, "event": "eval", "time": 6.0,
                               "metrics": {"AP": 0.3, "AP50": 0.5, "metric": "coco", "fusion_weights": {"a": 1}}})
    assert (evaluation.axis, evaluation.step, evaluation.values) == ("epoch", 4, {"eval/AP": 0.3, "eval/AP50": 0.5})
    assert line_metrics({"epoch": 1, "event": "something_new"}) is None


def test_the_config_is_flattened_with_dotted_keys_and_text_values():
    params = flat_params({"fusion": {"name": "asff", "compress_c": 16}, "model": {"anchors": [[1, 2]],
                          "weights": None}, "train": {"amp": False}, "data": {"train": {"sets": None}}, "seed": 0})
    assert params == {"fusion.name": "asff", "fusion.compress_c": "16", "model.anchors": "[[1, 2]]",
                      "model.weights": "null", "train.amp": "false", "data.train.sets": "null", "seed": "0"}


def test_a_run_is_named_after_its_folder_and_grouped_by_its_sweep(tmp_path):
    swept = tracked_run({"seed": 0}, tmp_path / "necks" / "fusion=pan", experiment_hash="ab12",
                        axes={"fusion": "pan", "seed": 0}, swept=True)
    assert (swept.name, swept.group) == ("fusion=pan", "necks")
    assert swept.tags == {"experiment_hash": "ab12", "run_name": "fusion=pan", "sweep": "necks",
                          "axis.fusion": "pan", "axis.seed": "0"}
    assert group_name(tmp_path / "runs" / "x", swept=False) == "asffbench"
    record = {"experiment_hash": "cd34", "sweep": "necks", "axes": {"fusion": "pan"}, "config": {"seed": 1}}
    from_record = tracked_record(record, tmp_path / "necks" / "fusion=pan" / "record.json")
    assert (from_record.name, from_record.group, from_record.params) == ("fusion=pan", "necks", {"seed": "1"})


def test_the_outcome_is_the_records_final_numbers():
    record = {"status": "completed", "metrics": {"AP": 0.25, "AP50": None, "per_class": {"a": 0.1}, "metric": "coco"},
              "bench": {"params": 100, "gflops": 1.5, "fps": 30.0, "fused": False}, "train_seconds": 12.0}
    outcome = outcome_of_record(record)
    assert outcome == RunOutcome("completed", {"AP": 0.25, "params": 100.0, "gflops": 1.5, "fps": 30.0,
                                               "train_seconds": 12.0})
    assert outcome_of_record({"status": "failed", "metrics": None, "bench": None}).failed


def test_the_artifacts_are_the_record_the_config_and_the_figures(tmp_path):
    for name in ("record.json", "config.yaml", "detections.json", "plots/loss.png", "fusion.svg",
                 "tensorboard/x.png", "wandb/offline-run-1/files/media/a.png", ".hidden/b.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    names = [p.relative_to(tmp_path).as_posix() for p in run_artifacts(tmp_path)]
    assert names == ["record.json", "config.yaml", "fusion.svg", "plots/loss.png"]


class Recording(Tracker):
    name = "recording"

    def __init__(self) -> None:
        self.lines, self.outcomes, self.closed = [], [], False

    def log_line(self, line):
        self.lines.append(dict(line))

    def finish(self, outcome):
        self.outcomes.append(outcome)

    def close(self):
        self.closed = True


class Breaking(Recording):
    name = "breaking"

    def log_line(self, line):
        super().log_line(line)
        if len(self.lines) == 2:
            raise ConnectionError("tracking server went away")


def test_the_trackers_get_every_train_log_line_as_written(tmp_path):
    recording = Recording()
    logger = TrainLogger(tmp_path, epochs=1, iters_per_epoch=2, tty=False, trackers=TrackerSet([recording]))
    logger.step(epoch=0, global_iter=0, loss=2.0, parts={"xy": 1.0}, lr=0.1, images_per_s=8.0)
    logger.step(epoch=0, global_iter=1, loss=1.0, parts={"xy": 0.5}, lr=0.1, images_per_s=8.0)
    logger.epoch_end(epoch=0, loss=1.5)
    logger.eval_result(epoch=0, metrics={"AP": 0.1})
    logger.close()
    written = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert recording.lines == written and len(written) == 4
    assert not recording.closed  # the trackers are the caller's: it finishes and closes them


def test_a_logger_of_a_rank_above_0_feeds_no_tracker(tmp_path):
    recording = Recording()  # DDP: only rank 0's logger is enabled; the others write and send nothing
    logger = TrainLogger(tmp_path, epochs=1, iters_per_epoch=1, enabled=False, trackers=TrackerSet([recording]))
    logger.step(epoch=0, global_iter=0, loss=1.0, parts={}, lr=0.1, images_per_s=1.0)
    logger.epoch_end(epoch=0, loss=1.0)
    logger.close()
    assert recording.lines == [] and not (tmp_path / "train_log.jsonl").exists()


def test_a_tracker_failing_mid_run_is_one_warning_and_the_run_goes_on(tmp_path, caplog):
    breaking, recording = Breaking(), Recording()
    trackers = TrackerSet([breaking, recording])
    logger = TrainLogger(tmp_path, epochs=1, iters_per_epoch=4, tty=False, trackers=trackers)
    with caplog.at_level(logging.WARNING):
        for i in range(4):
            logger.step(epoch=0, global_iter=i, loss=1.0, parts={}, lr=0.1, images_per_s=1.0)
        logger.epoch_end(epoch=0, loss=1.0)
        trackers.finish(RunOutcome("completed", {"AP": 0.5}))
    logger.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("logger=breaking: log_line failed (ConnectionError: "
                                                         "tracking server went away)"), warnings
    assert len(breaking.lines) == 2 and breaking.closed and breaking.outcomes == []  # left out from then on
    assert len(recording.lines) == 5 and recording.outcomes == [RunOutcome("completed", {"AP": 0.5})]
    assert len((tmp_path / "train_log.jsonl").read_text().splitlines()) == 5  # the log is whole
    assert trackers.names == ("recording",)


def test_a_tracker_that_cannot_start_is_one_warning(tmp_path, caplog, monkeypatch):
    import asffbench.trackers.open as opening

    def missing(settings, run):
        raise ImportError("No module named 'wandb'")

    monkeypatch.setitem(opening.STARTERS, "wandb", missing)
    run = tracked_run({"seed": 0}, tmp_path / "run", experiment_hash="ab")
    with caplog.at_level(logging.WARNING):
        trackers = open_trackers(TrackerSettings(wandb=WandbOptions()), run)
    assert trackers.names == ()
    assert [r.getMessage() for r in caplog.records] == [
        "logger=wandb: not started (ImportError: No module named 'wandb'); the run goes on without it"]
    assert open_trackers(TrackerSettings(mlflow=MlflowOptions()), run, enabled=False).names == ()  # rank > 0


def test_a_missing_extra_names_the_extra(monkeypatch):
    import sys

    from asffbench.errors import UserError
    from asffbench.trackers.mlflow_tracker import import_mlflow

    monkeypatch.setitem(sys.modules, "mlflow", None)  # what Python does for a package not installed
    with pytest.raises(UserError, match=r"^logger=\[mlflow\]: needs the 'mlflow' package; install it with "
                                        r"pip install 'asffbench\[track\]'$"):
        import_mlflow()


@pytest.mark.slow  # imports torch (torch.utils.tensorboard) in a fresh test process
def test_tensorboard_without_its_package_is_skipped_silently(tmp_path, caplog):
    pytest.importorskip("torch")
    try:
        import tensorboard  # noqa: F401
        pytest.skip("tensorboard is installed here")
    except ImportError:
        pass
    with caplog.at_level(logging.WARNING):
        trackers = open_trackers(TrackerSettings(tensorboard=True), tracked_run({}, tmp_path, experiment_hash=""))
    assert trackers.names == () and caplog.records == []
    assert not Path(tmp_path / "tensorboard").exists()


def test_the_trackers_unit_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys, asffbench.trackers.open, asffbench.trackers.mlflow_push\n"
            "print(sorted(m for m in ('torch', 'mlflow', 'wandb') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"  # the optional packages too wait until a tracker starts
