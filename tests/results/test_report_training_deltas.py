"""Δ over training: the report bootstraps each row against its base at every kept evaluation."""

from __future__ import annotations

import json

import pytest

from tests.results.coco_cases import detections, ground_truth
from tests.results.test_report_families import make_sweep


def keep_evaluation(run_dir, epochs_done: int, dets: list[dict]) -> None:
    folder = run_dir / "evals" / f"epoch_{epochs_done:04d}"
    folder.mkdir(parents=True)
    (folder / "detections.json").write_text(json.dumps(dets))


@pytest.mark.slow
def test_a_gain_seen_during_training_that_fades_by_the_end_is_said(tmp_path, fixtures):
    from asffbench.results.report import write_report

    gt_data = ground_truth(images=60, seed=13)
    final = {"none": [detections(gt_data, seed=80, quality=0.1)], "asff": [detections(gt_data, seed=81, quality=0.1)]}
    sweep = make_sweep(tmp_path, fixtures, final, gt_data)
    # after epoch 2 ASFF was far better, after epoch 4 both were alike; the final evaluation too
    keep_evaluation(sweep / "fusion=none_s0", 2, detections(gt_data, seed=82, quality=0.25))
    keep_evaluation(sweep / "fusion=asff_s0", 2, detections(gt_data, seed=83, quality=0.02))
    keep_evaluation(sweep / "fusion=none_s0", 4, detections(gt_data, seed=84, quality=0.1))
    keep_evaluation(sweep / "fusion=asff_s0", 4, detections(gt_data, seed=85, quality=0.1))
    keep_evaluation(sweep / "fusion=asff_s0", 6, detections(gt_data, seed=86, quality=0.1))  # the base has none

    summary = write_report([sweep], tmp_path / "r", bootstrap=200, error_analysis=False)
    (curve,) = summary.training["fusion"]
    assert curve.epochs == [2, 4]  # epochs both sides kept
    assert curve.deltas[0].significant_unadjusted and curve.deltas[0].delta > 0
    assert not curve.final.significant_unadjusted
    text = summary.report.read_text()
    assert "## Δ over training" in text
    assert "ΔAP of ASFF against YOLOv3 baseline excluded 0 after epoch(s) 2 of training but not at the end" in text
    assert (summary.out_dir / "figures" / "delta_over_training_fusion.png").stat().st_size > 0


def test_runs_without_kept_evaluations_have_no_section(tmp_path, fixtures):
    from asffbench.results.report import write_report

    gt_data = ground_truth(images=30, seed=13)
    sweep = make_sweep(tmp_path, fixtures, {"none": [detections(gt_data, seed=1)], "asff": [detections(gt_data, seed=2)]},
                       gt_data)
    summary = write_report([sweep], tmp_path / "r", bootstrap=50, error_analysis=False)
    assert not summary.training and "## Δ over training" not in summary.report.read_text()
