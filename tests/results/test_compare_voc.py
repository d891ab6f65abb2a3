"""VOC mAP in `asffbench compare` and in the report's intervals: same resamples as COCO AP."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asffbench.engine.voc_eval import match_detections as voc_match
from asffbench.engine.voc_eval import voc_metrics
from tests.results.coco_cases import detections, ground_truth, write_run
from tests.results.test_compare import compare_json
from tests.results import test_report_intervals

interval_sweep = test_report_intervals.interval_sweep  # the fixture, shared
VOC_NAMES = ("mAP", "mAP07")


def voc_ground_truth(images: int = 60, seed: int = 7) -> dict:
    """The COCO cases with their crowd boxes as VOC `difficult` objects."""
    data = ground_truth(images=images, seed=seed)
    for ann in data["annotations"]:
        ann["difficult"] = ann["iscrowd"]
    return data


def make_voc(run_dir):
    """Mark a run directory as evaluated with `eval.metric=voc`."""
    path = run_dir / "metrics.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "metric": "voc"}))
    return run_dir


@pytest.fixture
def gt_file(tmp_path):
    path = tmp_path / "voc_val.json"
    path.write_text(json.dumps(voc_ground_truth()))
    return path


def voc_run(tmp_path, gt_file, name, dets):
    return make_voc(write_run(tmp_path / name, gt_file, dets))


def test_voc_point_estimates_are_voc_metrics_of_the_full_set(cli, tmp_path, gt_file):
    data = json.loads(gt_file.read_text())
    dets_a, dets_b = detections(data, seed=1), detections(data, seed=2)
    result = compare_json(cli, voc_run(tmp_path, gt_file, "a", dets_a), voc_run(tmp_path, gt_file, "b", dets_b))
    for side, dets in (("a", dets_a), ("b", dets_b)):
        full = voc_metrics(voc_match(data, dets))
        for name in VOC_NAMES:
            assert result["metrics"][name][side] == pytest.approx(full[name], abs=1e-12)
    assert {"AP", "AP50", "APs", "APm", "APl"} <= set(result["metrics"])  # COCO AP beside it
    for name in VOC_NAMES:
        m = result["metrics"][name]
        assert m["ci95"][0] <= m["delta"] <= m["ci95"][1] and 0 < m["p"] <= 1


def test_a_voc_run_compared_with_itself_has_delta_zero(cli, tmp_path, gt_file):
    run = voc_run(tmp_path, gt_file, "run", detections(json.loads(gt_file.read_text()), seed=1))
    metrics = compare_json(cli, run, run)["metrics"]
    for name in VOC_NAMES:
        assert metrics[name]["delta"] == 0.0 and metrics[name]["ci95"] == [0.0, 0.0]
        assert metrics[name]["p"] == 1.0 and not metrics[name]["significant"]


def test_score_shuffled_detections_are_significantly_worse_on_map(cli, tmp_path, gt_file):
    dets = detections(json.loads(gt_file.read_text()), seed=2, quality=0.05)
    scores = [d["score"] for d in dets]
    np.random.default_rng(0).shuffle(scores)
    good = voc_run(tmp_path, gt_file, "good", dets)
    bad = voc_run(tmp_path, gt_file, "bad", [{**d, "score": s} for d, s in zip(dets, scores)])
    metrics = compare_json(cli, good, bad)["metrics"]
    for name in VOC_NAMES:
        assert metrics[name]["delta"] < 0 and metrics[name]["ci95"][1] < 0
        assert metrics[name]["significant"] and metrics[name]["p"] < 0.05
    code, out, _ = cli("compare", str(good), str(bad), "--bootstrap", "50")
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert code == 0 and lines["mAP"].endswith(" *") and lines["mAP07"].endswith(" *")


def test_voc_and_coco_metrics_of_a_replicate_use_the_same_weights(gt_file):
    from asffbench.results.intervals.bootstrap import bootstrap_weights, replicate_metrics
    from asffbench.results.intervals.matching import match_input
    from asffbench.results.reading.run_inputs import RunInput

    data = json.loads(gt_file.read_text())
    dets = gt_file.parent / "dets.json"
    dets.write_text(json.dumps(detections(data, seed=3)))
    coco_only = match_input(RunInput("r", dets, gt_file))
    matched = match_input(RunInput("r", dets, gt_file, voc=True))
    weights = bootstrap_weights(matched.num_images, 5, np.random.default_rng(1))
    both, coco = replicate_metrics(matched, weights), replicate_metrics(coco_only, weights)
    assert list(both) == [*VOC_NAMES, *coco]  # VOC first, as the tables show them
    for name in coco:
        np.testing.assert_array_equal(both[name], coco[name])
    for k, row in enumerate(weights):
        assert both["mAP"][k] == voc_metrics(matched.voc, row)["mAP"]
    assert len(set(both["mAP"])) > 1  # the replicates differ


def test_metric_option_forces_or_drops_voc(cli, tmp_path, gt_file, one_line_error):
    data = json.loads(gt_file.read_text())
    coco_run = write_run(tmp_path / "coco", gt_file, detections(data, seed=1))
    forced = compare_json(cli, coco_run, coco_run, "--metric", "voc")["metrics"]
    assert set(VOC_NAMES) <= set(forced)
    assert "mAP" not in compare_json(cli, coco_run, coco_run)["metrics"]  # a COCO run: COCO only
    run = voc_run(tmp_path, gt_file, "voc", detections(data, seed=1))
    assert "mAP" not in compare_json(cli, run, run, "--metric", "coco")["metrics"]
    code, _, err = cli("compare", str(run), str(run), "--metric", "map")
    one_line_error(code, err, "--metric map")


@pytest.fixture
def voc_interval_sweep(interval_sweep):
    """The report-interval sweep, every run evaluated as a VOC run (difficult = crowd)."""
    for run in interval_sweep.iterdir():
        metrics = json.loads((make_voc(run) / "metrics.json").read_text())
        gt = json.loads(open(metrics["ground_truth"]).read())
        full = voc_metrics(voc_match(gt, json.loads((run / "detections.json").read_text())))
        record = json.loads((run / "record.json").read_text())
        record["metrics"].update(metric="voc", mAP=full["mAP"], mAP07=full["mAP07"])
        (run / "record.json").write_text(json.dumps(record))
    return interval_sweep


def test_voc_report_marks_the_significant_map_delta_only(voc_interval_sweep, tmp_path):
    from asffbench.results.report.report_writer import write_report

    summary = write_report([voc_interval_sweep], tmp_path / "report", bootstrap=200)
    (table,) = summary.tables
    assert table.voc
    cells = {c.value: c for c in table.cells}
    assert cells["asff"].intervals["mAP"].significant and cells["asff"].intervals["mAP"].delta > 0
    # mAP07 (11-point) on 80 images: significant alone; its jackknife se, the scale of its adjusted
    # interval, is half again its bootstrap se (a step function of recall), so the family of 12 is
    # too wide for it here
    assert cells["asff"].intervals["mAP07"].significant_unadjusted and cells["asff"].intervals["mAP07"].delta > 0
    for name in VOC_NAMES:
        assert not cells["sum"].intervals[name].significant
    text = summary.report.read_text()
    header = next(line for line in text.splitlines() if line.startswith("| ") and "ΔmAP" in line)
    columns = [c.strip() for c in header.split("|")]
    results = text.split("## Error analysis")[0]  # its tables have the same row labels
    rows = {line.split("|")[1].strip(): line.split("|") for line in results.splitlines() if line.startswith("| ")}
    delta_map = columns.index("ΔmAP")
    assert rows["ASFF"][delta_map].strip().endswith("] *")
    assert rows["sum"][delta_map].strip().endswith("]") and "*" not in rows["sum"][delta_map]
    assert "Smallest detectable ΔmAP: about" in text
