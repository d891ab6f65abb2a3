"""The match table a run directory keeps: `compare` and `report` never match a run twice."""

from __future__ import annotations

import json

import pytest

from asffbench.engine import run_matches
from asffbench.record.layout import MATCHES_NAME
from asffbench.results.compare import compare_inputs
from tests.results.coco_cases import detections, ground_truth, write_run
from tests.results.test_compare_voc import make_voc


@pytest.fixture
def counted(monkeypatch):
    """Count the calls of both matchers (COCO and VOC)."""
    calls = {"coco": 0, "voc": 0}

    def counting(name, real):
        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(run_matches, "match_coco", counting("coco", run_matches.match_coco))
    monkeypatch.setattr(run_matches.voc_eval, "match_detections", counting("voc", run_matches.voc_eval.match_detections))
    return calls


@pytest.fixture
def runs(tmp_path):
    gt = tmp_path / "val.json"
    data = ground_truth(images=40, seed=8)
    gt.write_text(json.dumps(data))
    return [write_run(tmp_path / f"run{k}", gt, detections(data, seed=k)) for k in range(2)]


def metrics_of(a, b) -> dict:
    return compare_inputs(str(a), str(b), replicates=50).to_json()["metrics"]


def test_a_second_compare_does_not_match_again(runs, counted):
    first = metrics_of(*runs)
    assert counted["coco"] == 2 and all((run / MATCHES_NAME).is_file() for run in runs)
    assert metrics_of(*runs) == first
    assert counted["coco"] == 2  # both tables read back, nothing matched


def test_changed_detections_or_a_broken_table_are_matched_again(runs, counted):
    first = metrics_of(*runs)
    (runs[0] / MATCHES_NAME).write_bytes(b"not a table")
    dets = json.loads((runs[1] / "detections.json").read_text())
    (runs[1] / "detections.json").write_text(json.dumps(dets[: len(dets) // 2]))
    second = metrics_of(*runs)
    assert counted["coco"] == 4 and second["AP"]["a"] == first["AP"]["a"] and second["AP"]["b"] != first["AP"]["b"]
    metrics_of(*runs)
    assert counted["coco"] == 4


def test_a_voc_run_keeps_its_voc_matching_too(runs, counted):
    make_voc(runs[0])
    first = metrics_of(runs[0], runs[0])
    assert "mAP" in first and counted == {"coco": 1, "voc": 1}
    assert metrics_of(runs[0], runs[0]) == first and counted == {"coco": 1, "voc": 1}


def test_a_malformed_detection_is_named_in_one_line(cli, runs, one_line_error):
    dets = json.loads((runs[0] / "detections.json").read_text())
    dets[3]["bbox"] = dets[3]["bbox"][:3]
    (runs[0] / "detections.json").write_text(json.dumps(dets))
    code, _out, err = cli("compare", str(runs[0]), str(runs[1]), "--bootstrap", "10")
    one_line_error(code, err, str(runs[0] / "detections.json"), "detection 3", "bbox")
