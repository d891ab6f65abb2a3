"""`train.eval_every`: eval lines in train_log.jsonl, weights untouched; ASFF fusion weights by size."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from asffbench.config.compose import compose_config
from asffbench.record_schema import DETECTIONS_NAME, MATCHES_NAME, TRAINING_EVALS_DIR, training_eval_epoch
from asffbench.runs.evaluate import evaluate
from asffbench.runs.training import train
from tests.engine.test_train_loop import tiny_overrides


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "asffbench-cache"


def asff_overrides(run_dir: Path, cache: Path, *extra: str) -> list[str]:
    return tiny_overrides(run_dir, cache, "fusion=asff", "train.epochs=3", "train.max_iters_per_epoch=1", *extra)


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory, cache) -> tuple[Path, object]:
    run_dir = tmp_path_factory.mktemp("eval_every")
    cfg = compose_config(asff_overrides(run_dir, cache, "train.eval_every=1"))
    result = train(cfg, run_dir)
    return run_dir, result


def log_lines(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_eval_every_logs_eval_events_and_leaves_training_alone(evaluated_run, cache, tmp_path):
    run_dir, result = evaluated_run
    events = [line for line in log_lines(run_dir) if line.get("event") == "eval"]
    assert [e["epoch"] for e in events] == [0, 1]  # the last epoch is the final evaluation's
    for event in events:
        assert set(event["metrics"]) >= {"AP", "APs", "APm", "APl", "AP50", "num_images"}
        assert 0.0 <= event["metrics"]["AP"] <= 1.0
    plain = train(compose_config(asff_overrides(tmp_path / "plain", cache)), tmp_path / "plain")
    for (name, a), b in zip(result.model.state_dict().items(), plain.model.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.slow
def test_an_evaluation_cut_short_is_run_by_the_resumed_attempt(evaluated_run, cache, tmp_path, monkeypatch):
    """Killed after epoch 0's checkpoint, during its evaluation: the resumed attempt evaluates the
    weights it loaded first, and its eval lines equal those of the uninterrupted run."""
    from asffbench.engine.evaluate import PeriodicEvaluator
    from tests.engine.test_train_loop import Killed

    run_dir = tmp_path / "cut"
    real_call = PeriodicEvaluator.__call__

    def killed_while_evaluating(self, model, device, epochs_done=None):
        raise Killed()

    monkeypatch.setattr(PeriodicEvaluator, "__call__", killed_while_evaluating)
    with pytest.raises(Killed):
        train(compose_config(asff_overrides(run_dir, cache, "train.eval_every=1")), run_dir)
    assert [line["epoch"] for line in log_lines(run_dir) if line.get("event") == "epoch_end"] == [0]
    monkeypatch.setattr(PeriodicEvaluator, "__call__", real_call)
    train(compose_config(asff_overrides(run_dir, cache, "train.eval_every=1", "train.resume=true")), run_dir)

    def evals(folder):  # (epoch, metrics but the timing) of every eval line
        lines = [line for line in log_lines(folder) if line.get("event") == "eval"]
        return [(line["epoch"], {k: v for k, v in line["metrics"].items() if k != "eval_seconds"}) for line in lines]

    assert [epoch for epoch, _ in evals(run_dir)] == [0, 1]
    assert evals(run_dir) == evals(evaluated_run[0])


@pytest.mark.slow
def test_fusion_weights_of_asff_sum_to_one_in_every_cell(evaluated_run, cache):
    run_dir, result = evaluated_run
    cfg = compose_config(asff_overrides(run_dir, cache))
    metrics = evaluate(cfg, run_dir, model=result.model)
    weights = metrics["fusion_weights"]
    assert weights["sources"] == [32, 16, 8]
    counted = 0
    for table in ("by_size", "by_owner"):
        boxes = sum(cell["boxes"] for cell in weights[table].values())
        assert boxes > 0 and boxes == metrics["fusion_weights"]["by_size"]["small"]["boxes"] + \
            weights["by_size"]["medium"]["boxes"] + weights["by_size"]["large"]["boxes"]
        for cell in weights[table].values():
            for per_level in cell["weights"].values():
                if per_level is not None:
                    assert len(per_level) == 3 and math.isclose(sum(per_level), 1.0, abs_tol=1e-5)
                    counted += 1
    assert counted >= 6
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["fusion_weights"] == weights


@pytest.mark.slow
def test_report_of_the_trained_run_draws_its_curve_and_weights(evaluated_run, cache, tmp_path):
    from asffbench.config.compose import to_plain
    from asffbench.results.report import write_report

    run_dir, result = evaluated_run
    cfg = compose_config(asff_overrides(run_dir, cache))
    record = {"schema_version": 1, "status": "completed", "experiment_hash": "0" * 16, "axes": {"fusion": "asff"},
              "config": to_plain(cfg), "metrics": evaluate(cfg, run_dir, model=result.model)}
    (run_dir / "record.json").write_text(json.dumps(record))
    summary = write_report([run_dir], tmp_path / "report", bootstrap=20)
    assert {"ap_over_training.png", "fusion_weights.png"} <= {p.name for p in summary.figures}
    assert "## Fusion weights by object size" in summary.report.read_text()


def test_plain_fusions_have_no_fusion_weights(tmp_path, cache):
    from asffbench.build import build_model
    from asffbench.engine.evaluate import fusion_weight_stats
    from asffbench.settings import eval_settings

    for fusion, adaptive in (("none", False), ("sum", False), ("asff", True), ("asff_star", True)):
        cfg = compose_config(tiny_overrides(tmp_path, cache, f"fusion={fusion}"))
        assert (fusion_weight_stats(eval_settings(cfg), build_model(cfg)) is not None) == adaptive, fusion


@pytest.mark.slow
def test_each_evaluation_during_training_keeps_its_detections_and_match_table(evaluated_run):
    run_dir, _ = evaluated_run
    folders = sorted((run_dir / TRAINING_EVALS_DIR).iterdir())
    assert [training_eval_epoch(f) for f in folders] == [1, 2]  # after epochs 0 and 1 (epochs done)
    for folder in folders:
        assert isinstance(json.loads((folder / DETECTIONS_NAME).read_text()), list)
        assert (folder / MATCHES_NAME).is_file()
