"""P, mPC, rPC from stored corrupted evaluations, and the paired bootstrap of two runs' figures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from asffbench.corruptions import Corruption, cell_dir
from asffbench.errors import UserError
from asffbench.results.intervals.bootstrap import bootstrap_weights, replicate_metrics
from asffbench.results.intervals.robustness import (compare_robustness, matched_evaluations, read_robustness,
                                          robustness_json, side_estimate, stored_cells)
from tests.results.coco_cases import detections, ground_truth

CELLS = [Corruption("fog", 1), Corruption("fog", 3), Corruption("gaussian_noise", 1), Corruption("gaussian_noise", 3)]


def write_evaluation(folder: Path, figures: dict, gt_path: Path | None = None, dets: list | None = None) -> None:
    """An evaluation as `evaluate` leaves it (metrics.json last)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "detections.json").write_text(json.dumps(dets or []))
    (folder / "metrics.json").write_text(json.dumps({**figures, "ground_truth": str(gt_path)}))


def test_mpc_and_rpc_are_the_means_of_the_stored_cells(tmp_path) -> None:
    run = tmp_path / "run"
    write_evaluation(run, {"metric": "coco", "AP": 0.40})
    aps = {CELLS[0]: 0.30, CELLS[1]: 0.10, CELLS[2]: 0.25, CELLS[3]: 0.05}
    for corruption, ap in aps.items():
        write_evaluation(cell_dir(run, corruption), {"metric": "coco", "AP": ap})
    (run / "robust" / "snow-2").mkdir()  # unfinished: no metrics.json
    result = read_robustness(run, CELLS)
    assert result.metric == "AP" and result.clean == 0.40
    assert result.mpc == pytest.approx((0.30 + 0.10 + 0.25 + 0.05) / 4)
    assert result.rpc == pytest.approx(0.175 / 0.40)
    assert result.by_corruption() == pytest.approx({"fog": 0.20, "gaussian_noise": 0.15})
    assert result.by_severity()["fog"] == {1: 0.30, 3: 0.10}
    assert stored_cells(run) == [CELLS[2], CELLS[3], CELLS[0], CELLS[1]]  # the catalogue's order
    assert robustness_json(result)["rPC"] == pytest.approx(0.4375)
    with pytest.raises(UserError, match="snow-2: not evaluated"):
        read_robustness(run, [Corruption("snow", 2)])


def test_voc_runs_are_measured_in_map(tmp_path) -> None:
    run = tmp_path / "run"
    write_evaluation(run, {"metric": "voc", "AP": 0.2, "mAP": 0.5})
    write_evaluation(cell_dir(run, CELLS[0]), {"metric": "voc", "AP": 0.1, "mAP": 0.25})
    result = read_robustness(run, CELLS[:1])
    assert (result.metric, result.clean, result.mpc, result.rpc) == ("mAP", 0.5, 0.25, 0.5)


@pytest.fixture
def gt_path(tmp_path) -> Path:
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(ground_truth(images=30)))
    return path


def write_run(run: Path, gt_path: Path, clean: list, cells: dict) -> Path:
    """A run with real detections: its clean evaluation and one per cell, AP as pycocotools gives it."""
    from asffbench.results.intervals.bootstrap import match_detections, point_metrics
    from asffbench.results.reading.run_inputs import load_ground_truth

    gt = load_ground_truth(gt_path)
    for folder, dets in [(run, clean)] + [(cell_dir(run, c), d) for c, d in cells.items()]:
        ap = point_metrics(match_detections(gt, dets))["AP"]
        write_evaluation(folder, {"metric": "coco", "AP": ap}, gt_path, dets)
    return run


def test_a_detector_that_corruption_does_not_change_has_rpc_one(tmp_path, gt_path) -> None:
    dets = detections(json.loads(gt_path.read_text()), seed=1)
    constant = write_run(tmp_path / "a", gt_path, dets, {c: dets for c in CELLS})
    result = read_robustness(constant, CELLS)
    assert result.rpc == 1.0 and result.mpc == result.clean > 0
    same = compare_robustness(constant, constant, CELLS, replicates=50)
    for name, delta in same.deltas.items():
        assert delta.delta == 0.0 and delta.ci95 == (0.0, 0.0), name


def test_paired_intervals_resample_images_once_across_cells(tmp_path, gt_path) -> None:
    truth = json.loads(gt_path.read_text())
    good, poor = detections(truth, seed=1, quality=0.05), detections(truth, seed=2, quality=0.4)
    a = write_run(tmp_path / "a", gt_path, good, {c: poor for c in CELLS})  # falls apart
    b = write_run(tmp_path / "b", gt_path, good, {c: good for c in CELLS})  # holds up
    result = compare_robustness(a, b, CELLS, replicates=200, seed=3)
    assert list(result.deltas)[:3] == ["P", "mPC", "rPC"] and set(result.deltas) >= {"fog", "gaussian_noise"}
    assert result.deltas["P"].delta == 0.0
    mpc = result.deltas["mPC"]
    assert mpc.delta == pytest.approx(read_robustness(b, CELLS).mpc - read_robustness(a, CELLS).mpc)
    assert mpc.significant and mpc.ci95[0] > 0
    assert result.deltas["rPC"].b == pytest.approx(1.0)
    # mPC on each replicate is the mean of the cells' AP on the very same image draws.
    weights = bootstrap_weights(30, 20, np.random.default_rng(0))
    matched = matched_evaluations(a, CELLS)
    side = side_estimate(read_robustness(a, CELLS), matched, weights)
    per_cell = np.stack([replicate_metrics(m, weights)["AP"] for m in matched[1:]])
    assert np.allclose(side.replicates["mPC"], per_cell.mean(axis=0))
    assert np.allclose(side.replicates["rPC"], per_cell.mean(axis=0) / replicate_metrics(matched[0], weights)["AP"])
    assert not math.isnan(result.deltas["fog"].p)


def test_the_figure_plots_each_familys_mean_by_severity_from_clean() -> None:
    from asffbench.results.intervals.robustness import Robustness
    from asffbench.results.report.robustness_section import family_curve

    cells = {Corruption("gaussian_noise", 1): 0.3, Corruption("shot_noise", 1): 0.1,
             Corruption("gaussian_noise", 2): 0.2, Corruption("fog", 2): 0.35}
    figures = Robustness("run", "AP", 0.4, cells)
    assert family_curve(figures, "noise") == ([0, 1, 2], [0.4, pytest.approx(0.2), 0.2])
    assert family_curve(figures, "weather") == ([0, 2], [0.4, 0.35])
    assert family_curve(figures, "digital") == ([], [])
