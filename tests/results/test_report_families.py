"""A report table's deltas as one family: adjusted `*`, the sentence under each table, one-seed rows."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from tests.results.coco_cases import detections, ground_truth, write_run

FUSIONS = ("none", "concat", "sum", "pan", "bifpn", "asff", "asff_pan", "asff_star")


def shuffled_scores(dets: list[dict], seed: int) -> list[dict]:
    """The same detections with their scores permuted within each image: no true difference."""
    rng = np.random.default_rng(seed)
    out = copy.deepcopy(dets)
    by_image: dict[int, list[dict]] = {}
    for det in out:
        by_image.setdefault(det["image_id"], []).append(det)
    for group in by_image.values():
        for det, score in zip(group, rng.permutation([d["score"] for d in group])):
            det["score"] = float(score)
    return out


def make_sweep(tmp_path, fixtures, runs: dict[str, list[list[dict]]], gt_data: dict):
    from asffbench.results.bootstrap import point_metrics
    from asffbench.results.compare import RunInput, match_input

    gt = tmp_path / "instances_val.json"
    gt.write_text(json.dumps(gt_data))
    template = json.loads((fixtures / "fusion_sweep" / "none_s0" / "record.json").read_text())
    sweep = tmp_path / "sweep"
    for k, (fusion, seeds) in enumerate(runs.items()):
        for s, dets in enumerate(seeds):
            run = sweep / f"fusion={fusion}_s{s}"
            write_run(run, gt, dets)
            record = copy.deepcopy(template)
            record["axes"] = {"fusion": fusion}
            record["config"]["fusion"]["name"] = fusion
            record["config"]["seed"] = s
            record["seed"] = s
            record["experiment_hash"] = f"{k:08d}{s:08d}"
            record["metrics"].update(point_metrics(match_input(RunInput(fusion, run / "detections.json", gt))))
            (run / "record.json").write_text(json.dumps(record))
    return sweep


@pytest.fixture
def null_sweep(tmp_path, fixtures):
    gt_data = ground_truth(images=60, seed=5)
    base = detections(gt_data, seed=3, quality=0.08, decimals=None)
    # Shuffle seeds with which some deltas exclude 0 on their own by chance (so that "nothing
    # marked once adjusted" is not true of every null sweep trivially).
    return make_sweep(tmp_path, fixtures, {f: [shuffled_scores(base, 200 + i)] for i, f in enumerate(FUSIONS)},
                      gt_data)


@pytest.mark.slow
def test_shuffled_copies_are_marked_nowhere_once_adjusted(null_sweep, tmp_path):
    from asffbench.results.report import write_report

    adjusted = write_report([null_sweep], tmp_path / "adjusted", bootstrap=300, error_analysis=False)
    (table,) = adjusted.tables
    family = [m for c in table.cells for m in c.intervals.values()]
    assert len(family) == 7 * 4  # seven rows against the baseline, four AP columns
    assert not any(m.significant for m in family)
    assert any(m.significant_unadjusted for m in family)  # alone, some exclude 0 by chance
    text = adjusted.report.read_text()
    assert "No difference in this table is significant with its family of 28 comparisons" in text
    assert "each taken alone" in text
    results = text.split("## Error analysis")[0]
    assert not any(line.rstrip().endswith("*") or "] * |" in line for line in results.splitlines()
                   if line.startswith("| "))
    assert "One seed in" in text  # every row has one seed: what a * covers is said


@pytest.mark.slow
def test_unadjusted_report_marks_what_each_interval_alone_excludes(null_sweep, tmp_path):
    from asffbench.results.report import write_report

    plain = write_report([null_sweep], tmp_path / "plain", bootstrap=300, error_analysis=False, adjustment="none")
    (table,) = plain.tables
    hits = [m for c in table.cells for m in c.intervals.values() if m.significant]
    assert hits and all(m.significant_unadjusted for m in hits)
    assert "] *" in plain.report.read_text()
    assert "Significant with its family of 28 comparisons taken together (no adjustment" in plain.report.read_text()


def test_a_real_difference_is_named_with_its_row_and_the_family_size(tmp_path, fixtures):
    from asffbench.results.report import write_report

    gt_data = ground_truth(images=80, seed=11)
    runs = {"none": [detections(gt_data, seed=20, quality=0.15)], "sum": [detections(gt_data, seed=21, quality=0.15)],
            "asff": [detections(gt_data, seed=22, quality=0.02)]}
    sweep = make_sweep(tmp_path, fixtures, runs, gt_data)
    summary = write_report([sweep], tmp_path / "r", bootstrap=300, error_analysis=False)
    text = summary.report.read_text()
    assert "Significant with its family of 8 comparisons taken together (simultaneous 95% intervals" in text
    assert "ΔAP of ASFF against YOLOv3 baseline" in text
    assert "of sum against" not in text.split("Significant with")[1].split("\n")[0]
    assert summary.tables[0].cells[-1].intervals["AP"].adjusted.family == 8
    # Holm at 300 replicates cannot reach 0.05/8 (a bootstrap p is at least 2/301): it says so
    holm = write_report([sweep], tmp_path / "holm", bootstrap=300, error_analysis=False, adjustment="holm")
    assert "no bootstrap p-value can reach Holm's smallest threshold 0.05/8: use --bootstrap 320" in \
        holm.report.read_text()


def test_one_seed_rows_are_widened_by_the_multi_seed_rows_spread(tmp_path, fixtures):
    from asffbench.results.report import write_report

    gt_data = ground_truth(images=60, seed=7)
    runs = {"none": [detections(gt_data, seed=30 + s, quality=0.08) for s in range(3)],
            "sum": [detections(gt_data, seed=40 + s, quality=0.08) for s in range(3)],
            "asff": [detections(gt_data, seed=50, quality=0.08)]}
    sweep = make_sweep(tmp_path, fixtures, runs, gt_data)
    summary = write_report([sweep], tmp_path / "r", bootstrap=200, error_analysis=False)
    cells = {c.value: c for c in summary.tables[0].cells}
    assert cells["asff"].intervals["AP"].seed_widening > 0
    assert cells["sum"].intervals["AP"].seed_widening == 0  # both sides have their seeds resampled
    text = summary.report.read_text()
    assert "One seed in ASFF" in text and "widened by the seed spread" in text
