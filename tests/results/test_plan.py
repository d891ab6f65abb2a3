"""`asffbench plan`: the seeds x val images table from a two-seed pilot, its JSON, and its errors."""

from __future__ import annotations

import json

import pytest

from tests.results.coco_cases import detections, ground_truth
from tests.results.test_report_families import make_sweep


@pytest.fixture
def pilot(tmp_path, fixtures):
    gt_data = ground_truth(images=50, seed=9)
    runs = {"none": [detections(gt_data, seed=60 + s, quality=0.12) for s in range(2)],
            "asff": [detections(gt_data, seed=70 + s, quality=0.08) for s in range(2)]}
    return make_sweep(tmp_path, fixtures, runs, gt_data)


def test_plan_on_a_two_seed_pilot_prints_the_table(cli, pilot):
    code, out, err = cli("plan", str(pilot), "--delta", "2", "--bootstrap", "200")
    assert code == 0, err
    assert "Pilot: 2 variants (YOLOv3 baseline: 2, ASFF: 2 seeds) on 50 val images" in out
    assert "To detect ΔAP = 2 with 80% power at 5% (two-sided):" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:2].strip().isdigit()]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5, 8, 10]
    assert "Smallest ΔAP this pilot detects" in out

    code, out, err = cli("plan", str(pilot), "--delta", "2", "--bootstrap", "200", "--json", "--power", "0.9")
    plan = json.loads(out)
    assert plan["pilot"]["images"] == 50 and plan["power"] == 0.9
    needed = [d["images"] for d in plan["designs"] if d["images"] is not None]
    assert needed == sorted(needed, reverse=True) and needed  # more seeds never need more images
    assert plan["pilot"]["detectable_delta"] > 0


def test_plan_refuses_a_pilot_without_two_seeds_per_variant(cli, one_line_error, tmp_path, fixtures):
    gt_data = ground_truth(images=30, seed=9)
    sweep = make_sweep(tmp_path, fixtures, {"none": [detections(gt_data, seed=1)],
                                            "asff": [detections(gt_data, seed=2)]}, gt_data)
    one_line_error(*cli("plan", str(sweep), "--delta", "1")[::2], "at least two seeds of at least two variants")


def test_plan_refuses_an_unknown_metric_and_a_bad_delta(cli, one_line_error, pilot):
    one_line_error(*cli("plan", str(pilot), "--delta", "1", "--metric", "mAP", "-n", "20")[::2], "--metric mAP")
    one_line_error(*cli("plan", str(pilot), "--delta", "0")[::2], "--delta 0")
