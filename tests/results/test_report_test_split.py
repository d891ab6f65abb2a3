"""Runs evaluated on a test split (no annotations, no AP): the report shows them without AP,
`compare` and `analyze` refuse them in one line naming the run."""

from __future__ import annotations

import copy
import json

import pytest

from tests.results.coco_cases import detections, ground_truth, write_run

SERVER_FILE = "detections_test-dev2017_darknet53-none-608_results.json"


@pytest.fixture
def mixed_sweep(tmp_path, fixtures):
    """fusion=none evaluated on a test split (its record as `run` writes it: every metric null,
    `annotated` false), fusion=asff on an annotated val split."""
    gt_data = ground_truth(images=30, seed=3)
    gt = tmp_path / "instances_val.json"
    gt.write_text(json.dumps(gt_data))
    info = tmp_path / "image_info_test-dev2017.json"
    info.write_text(json.dumps({key: gt_data[key] for key in ("images", "categories")}))
    template = json.loads((fixtures / "fusion_sweep" / "none_s0" / "record.json").read_text())
    sweep = tmp_path / "sweep"
    for k, fusion in enumerate(("none", "asff")):
        run = sweep / f"fusion={fusion}"
        record = copy.deepcopy(template)
        record.update(axes={"fusion": fusion}, experiment_hash=f"{k:016d}")
        record["config"]["fusion"]["name"] = fusion
        if fusion == "none":
            run.mkdir(parents=True)
            (run / SERVER_FILE).write_text(json.dumps(detections(gt_data, seed=1)))
            record["metrics"] = {**{name: None for name in record["metrics"] if name.startswith("A")},
                                 "metric": "coco", "annotated": False, "ground_truth": str(info),
                                 "no_ap_reason": f"{info} has no annotations (image info only: a test split); "
                                                 "its AP comes from the evaluation server",
                                 "server_results": str(run / SERVER_FILE)}
            (run / "record.json").write_text(json.dumps(record))
        else:
            write_run(run, gt, detections(gt_data, seed=2), record)
    return sweep, gt, info


def test_the_report_shows_a_run_without_ap(mixed_sweep, tmp_path):
    from asffbench.results.report.report_writer import write_report

    sweep, _gt, _info = mixed_sweep
    summary = write_report([sweep], tmp_path / "report", bootstrap=20)
    (table,) = summary.tables
    cells = {c.value: c for c in table.cells}
    assert cells["none"].n == 1 and cells["none"].unscored == 1 and cells["asff"].unscored == 0
    text = summary.report.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| YOLOv3 baseline"))
    values = [v.strip() for v in row.split("|")[1:-1]]
    assert values[2] == "n/a" and values[8] not in ("", "n/a") and values[10] not in ("", "n/a")  # AP; params, FPS
    assert "No AP for YOLOv3 baseline: evaluated on a split without annotations" in text
    assert "fusion=none: no AP:" in text and "image_info_test-dev2017.json has no annotations" in text
    assert "no AP computed: a split without annotations" in text  # the methods block


@pytest.mark.parametrize("command", ["compare", "analyze"])
def test_compare_and_analyze_refuse_a_run_without_ap(cli, one_line_error, mixed_sweep, command):
    sweep, _gt, _info = mixed_sweep
    code, _out, err = cli(command, str(sweep / "fusion=asff"), str(sweep / "fusion=none"), "--bootstrap", "10")
    one_line_error(code, err, str(sweep / "fusion=none"), "no AP", "image_info_test-dev2017.json", SERVER_FILE)


def test_a_results_file_scored_against_image_info_is_refused(cli, one_line_error, mixed_sweep):
    sweep, _gt, info = mixed_sweep
    results = sweep / "fusion=none" / SERVER_FILE
    code, _out, err = cli("compare", str(results), str(results), "--gt", str(info), "--bootstrap", "10")
    one_line_error(code, err, str(info), "without annotations")


def test_server_names_are_sanitised():
    from asffbench.coco_format import server_results_name, testset_name

    assert testset_name("annotations/image_info_test-dev2017.json") == "test-dev2017"
    assert testset_name("instances_val2017.json") == "val2017"
    assert server_results_name("test-dev2017", "darknet53-asff_star-608") == \
        "detections_test-dev2017_darknet53-asff-star-608_results.json"  # `_` separates the server's fields
    assert server_results_name("my test", "a/b") == "detections_my-test_a-b_results.json"
