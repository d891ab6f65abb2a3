"""`asffbench robust`: bad input, and two smoke-sized runs evaluated on a reduced grid, resumed
after a stop without evaluating a stored cell again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.runs.conftest import TINY, TINY_TRAIN, as_overrides

pytest.importorskip("imagecorruptions")

REDUCED = ("--corruptions", "gaussian_noise,fog", "--severities", "1-2")


def test_unknown_corruption_or_severity_is_one_line(cli, tmp_path, one_line_error) -> None:
    code, _out, err = cli("robust", str(tmp_path), "--corruptions", "fog,smog")
    one_line_error(code, err, "--corruptions", "smog", "gaussian_noise", "saturate")
    code, _out, err = cli("robust", str(tmp_path), "--severities", "0-6")
    one_line_error(code, err, "--severities 0-6", "1-5")
    code, _out, err = cli("eval", f"run_dir={tmp_path}", "eval.corruption=smog")
    one_line_error(code, err, "eval.corruption=smog", "gaussian_noise", "jpeg_compression")
    code, _out, err = cli("eval", f"run_dir={tmp_path}", "eval.corruption=fog", "eval.severity=6")
    one_line_error(code, err, "eval.severity=6", "1-5")
    code, _out, err = cli("config", "robust.severities=[0]")
    one_line_error(code, err, "robust.severities")
    code, _out, err = cli("robust", str(tmp_path / "nowhere"), "--corruptions", "fog")
    one_line_error(code, err, "nowhere: no such run directory")
    assert not (tmp_path / "nowhere").exists()


def test_cost_is_evaluations_times_images_times_seconds_per_image() -> None:
    from asffbench.corruptions import Corruption
    from asffbench.runs.robust import Cost, pipelined

    cost = Cost([None, Corruption("fog", 1), Corruption("fog", 2)], images=10,
                seconds_per_image={"clean": 0.1, "fog": 0.3}, measured_on=2)
    assert cost.total_seconds == pytest.approx(10 * 0.1 + 2 * 10 * 0.3)
    assert cost.describe().startswith("3 evaluations x 10 images x 0.233 s/image (measured on 2 images")
    assert pipelined(1.0, 0.1, workers=0) == pytest.approx(1.1)  # prepared, then inferred
    assert pipelined(1.0, 0.1, workers=4) == pytest.approx(0.25)  # prepared by 4 workers meanwhile
    assert pipelined(0.2, 0.1, workers=4) == pytest.approx(0.1)


def trained_run(cli, run_dir: Path, *extra: str, data: str = "synth") -> Path:
    """A tiny run with a checkpoint (train.epochs=0: the initialised model is saved)."""
    code, _out, err = cli("train", *as_overrides({**TINY, "data": data, "run_dir": str(run_dir)}), *extra)
    assert code == 0, err
    return run_dir


class ConstantDetector(nn.Module):
    """Whatever the image, the detections of a blank one: corruption cannot change them."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.num_classes = model.num_classes

    def forward(self, images: torch.Tensor, return_fusion_weights: bool = False):
        return self.model(torch.zeros_like(images), return_fusion_weights=return_fusion_weights)


@pytest.mark.slow
def test_robust_on_two_runs_resumes_and_compares(cli, tmp_path, monkeypatch) -> None:
    import asffbench.runs.robust as robust
    from asffbench.corruptions import Corruption, grid
    from asffbench.model_source import eval_config
    from asffbench.results.intervals.robustness import read_robustness, stored_cells
    from asffbench.weights.load import build_with_weights

    a = trained_run(cli, tmp_path / "a", "fusion=none")
    b = trained_run(cli, tmp_path / "b", "fusion=asff")
    cells = grid(["gaussian_noise", "fog"], [1, 2])
    real, calls = robust.evaluate, []

    def stopped_after_two(cfg, run_dir, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt  # a stop between two evaluations
        calls.append(cfg.eval.corruption)
        return real(cfg, run_dir, **kwargs)

    monkeypatch.setattr(robust, "evaluate", stopped_after_two)
    with pytest.raises(KeyboardInterrupt):
        robust.robust_run(a, cells, print)
    assert calls == [None, "gaussian_noise", "gaussian_noise"]  # clean first, then two cells
    assert stored_cells(a) == [Corruption("gaussian_noise", 1), Corruption("gaussian_noise", 2)]

    calls.clear()
    monkeypatch.setattr(robust, "evaluate", lambda cfg, run_dir, **kw: calls.append(cfg.eval.corruption) or real(cfg, run_dir, **kw))
    code, out, err = cli("robust", str(a), str(b), *REDUCED, "--json", "-n", "50")
    assert code == 0, err
    assert calls == ["fog", "fog", None] + ["gaussian_noise"] * 2 + ["fog"] * 2  # a's rest, then b's all
    assert "cost: 2 evaluations x 3 images x" in err and "cost: 5 evaluations x 3 images x" in err
    result = json.loads(out)
    for side, run in (("a", a), ("b", b)):
        figures = read_robustness(run, cells)
        assert result[side]["mPC"] == pytest.approx(figures.mpc) and result[side]["P"] == pytest.approx(figures.clean)
        assert sorted(result[side]["cells"]) == ["fog-1", "fog-2", "gaussian_noise-1", "gaussian_noise-2"]
    assert set(result["delta"]) == {"P", "mPC", "rPC", "gaussian_noise", "fog"}
    for cell in cells:
        folder = a / "robust" / cell.cell
        assert {p.name for p in folder.iterdir()} >= {"detections.json", "metrics.json", "coco_matches.npz"}
        assert json.loads((folder / "metrics.json").read_text())["num_images"] == 3

    calls.clear()
    code, out, _err = cli("robust", str(a), *REDUCED)
    assert code == 0 and calls == [] and "mPC" in out and "rPC" in out  # everything stored: nothing evaluated

    # A detector that corruption cannot change, through the real pipeline: rPC is 1.
    cfg = eval_config([f"run_dir={a}"])
    constant = ConstantDetector(build_with_weights(cfg, None))
    robust.robust_with_model(cfg, tmp_path / "constant", constant, None, cells, print)
    figures = read_robustness(tmp_path / "constant", cells)
    assert figures.rpc == 1.0 and figures.mpc == figures.clean


@pytest.mark.slow
def test_on_voc_data_the_figure_is_voc_map(cli, tmp_path) -> None:
    """Pascal-C: the metric follows eval.metric (auto: VOC mAP@0.5 on VOC data)."""
    run = trained_run(cli, tmp_path / "voc", data="voc_synth")
    code, out, err = cli("robust", str(run), "--corruptions", "fog", "--severities", "1", "--json")
    assert code == 0, err
    result = json.loads(out)
    clean, cell = (json.loads((folder / "metrics.json").read_text()) for folder in (run, run / "robust" / "fog-1"))
    assert clean["metric"] == cell["metric"] == "voc" and result["metric"] == "mAP"
    assert result["P"] == clean["mAP"] and result["mPC"] == cell["mAP"]
    assert result["rPC"] == pytest.approx(cell["mAP"] / clean["mAP"])


@pytest.mark.slow
def test_a_sweep_with_the_robust_stage_reports_robustness(cli, write_sweep, tmp_path) -> None:
    grid_keys = {"robust.corruptions": ["gaussian_noise", "fog"], "robust.severities": [1, 2]}
    sweep = write_sweep("robust", {"fusion": ["none", "asff"]}, {**TINY_TRAIN, **grid_keys})
    out_dir = tmp_path / "sweep"
    code, out, err = cli("sweep", str(sweep), f"hydra.sweep.dir={out_dir}", "--no-live", "--robust")
    assert code == 0, err
    for run in ("fusion=none", "fusion=asff"):
        stored = sorted(p.name for p in (out_dir / run / "robust").iterdir())
        assert stored == ["fog-1", "fog-2", "gaussian_noise-1", "gaussian_noise-2"], run
    # Again with a severity more: the completed runs are skipped and get the two cells they lack.
    code, out, err = cli("sweep", str(sweep), f"hydra.sweep.dir={out_dir}", "--no-live", "--robust",
                         "robust.severities=[1,2,3]")
    assert code == 0 and "completed 0, skipped 2, failed 0" in out, err
    for run in ("fusion=none", "fusion=asff"):
        assert {"fog-3", "gaussian_noise-3"} < {p.name for p in (out_dir / run / "robust").iterdir()}
    report = tmp_path / "report"
    code, out, err = cli("report", str(out_dir), "--out", str(report), "--bootstrap", "50", "--no-errors")
    assert code == 0, err
    text = (report / "report.md").read_text()
    section = text[text.index("## Robustness"):]
    assert "| Row | P (AP) | mPC | rPC (%) | Δ mPC [95%] | Δ rPC [95%] |" in section
    assert "(baseline)" in section and "6 corrupted evaluations per run" in section
    assert (report / "figures" / "robustness_by_severity.png").is_file()
