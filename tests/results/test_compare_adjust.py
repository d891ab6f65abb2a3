"""`compare` and `analyze` --adjust: their own family of deltas, adjusted together."""

from __future__ import annotations

import json

import pytest

from tests.results.coco_cases import detections, ground_truth, write_run


@pytest.fixture
def two_runs(tmp_path):
    gt_data = ground_truth(images=50, seed=4)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(gt_data))
    a = write_run(tmp_path / "a", gt, detections(gt_data, seed=1, quality=0.15))
    b = write_run(tmp_path / "b", gt, detections(gt_data, seed=2, quality=0.03))
    return a, b


def test_compare_adjusts_within_its_metrics(cli, two_runs):
    a, b = two_runs
    code, out, err = cli("compare", str(a), str(b), "-n", "300", "--json", "--adjust", "simultaneous")
    assert code == 0, err
    metrics = json.loads(out)["metrics"]
    families = {m["adjusted"]["family"] for m in metrics.values()}
    assert families == {len(metrics)}  # AP, AP50, AP75, APs, APm, APl
    for m in metrics.values():
        lo, hi = m["adjusted"]["ci95"]
        assert hi - lo > m["ci95"][1] - m["ci95"][0]  # adjusted intervals are the wider ones
        assert m["significant"] == (lo > 0 or hi < 0)
    assert metrics["AP"]["significant"]
    code, out, err = cli("compare", str(a), str(b), "-n", "300", "--adjust", "holm")
    assert "significant with the 6 metrics' deltas taken together (Holm-adjusted" in out
    code, out, _ = cli("compare", str(a), str(b), "-n", "300")
    assert "each metric taken alone" in out and "adjusted" not in out.lower().split("metric taken alone")[0][-200:]


def test_an_unknown_adjustment_is_one_line(cli, one_line_error, two_runs):
    a, b = two_runs
    one_line_error(*cli("compare", str(a), str(b), "--adjust", "bonferroni")[::2], "--adjust bonferroni")
    one_line_error(*cli("analyze", str(a), str(b), "--adjust", "bonferroni")[::2], "--adjust bonferroni")


def test_analyze_adjusts_all_its_deltas_together(cli, two_runs):
    a, b = two_runs
    code, out, err = cli("analyze", str(a), str(b), "-n", "100", "--adjust", "holm")
    assert code == 0, err
    assert "taken together (Holm-adjusted" in out
