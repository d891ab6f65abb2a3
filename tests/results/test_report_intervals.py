"""Report deltas carry paired bootstrap intervals; significant ones are marked, others not."""

from __future__ import annotations

import copy
import json

import pytest

from tests.results.coco_cases import detections, ground_truth, write_run

FUSIONS = {"none": 0.15, "asff": 0.02, "sum": 0.15}  # box jitter: ASFF's detections are far better


@pytest.fixture
def interval_sweep(tmp_path, fixtures):
    from asffbench.results.intervals.matching import match_input
    from asffbench.results.reading.run_inputs import RunInput
    from asffbench.results.intervals.bootstrap import point_metrics

    gt_data = ground_truth(images=80, seed=11)
    gt = tmp_path / "instances_val.json"
    gt.write_text(json.dumps(gt_data))
    template = json.loads((fixtures / "fusion_sweep" / "none_s0" / "record.json").read_text())
    sweep = tmp_path / "sweep"
    for k, (fusion, jitter) in enumerate(FUSIONS.items()):
        run = sweep / f"fusion={fusion}"
        write_run(run, gt, detections(gt_data, seed=20 + k, quality=jitter))
        record = copy.deepcopy(template)
        record["axes"] = {"fusion": fusion}
        record["config"]["fusion"]["name"] = fusion
        record["experiment_hash"] = f"{k:016d}"
        measured = point_metrics(match_input(RunInput(fusion, run / "detections.json", gt)))
        record["metrics"].update(measured)
        (run / "record.json").write_text(json.dumps(record))
    return sweep


def test_report_marks_the_significant_delta_only(interval_sweep, tmp_path):
    from asffbench.results.report.report_writer import write_report

    summary = write_report([interval_sweep], tmp_path / "report", bootstrap=200)
    (table,) = summary.tables
    cells = {c.value: c for c in table.cells}
    assert cells["asff"].intervals["AP"].significant and cells["asff"].intervals["AP"].delta > 0
    assert not cells["sum"].intervals["AP"].significant
    assert cells["none"].baseline and not cells["none"].intervals
    text = summary.report.read_text()
    results = text.split("## Error analysis")[0]  # its tables have the same row labels
    row = {line.split("|")[1].strip(): line for line in results.splitlines() if line.startswith("| ")}
    ap_delta = lambda line: line.split("|")[12].strip()  # noqa: E731 - the ΔAP column
    assert ap_delta(row["ASFF"]).endswith("] *")
    assert ap_delta(row["sum"]).endswith("]") and "*" not in ap_delta(row["sum"])
    assert "Smallest detectable ΔAP: about" in text
    assert "No difference in this table is significant" not in text
    csv = (tmp_path / "report" / "tables" / "fusion.md").read_text()
    assert "[" in csv


def test_nothing_significant_is_said_and_missing_detections_are_a_gap(interval_sweep, tmp_path):
    from asffbench.results.report.report_writer import write_report

    (interval_sweep / "fusion=asff" / "detections.json").unlink()
    summary = write_report([interval_sweep], tmp_path / "report", bootstrap=100)
    text = summary.report.read_text()
    assert "No difference in this table is significant" in text
    assert "No interval for: fusion=asff: no detections.json" in text
