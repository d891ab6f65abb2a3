"""Error analysis (TIDE's error types on COCOeval's matching): oracles, pycocotools, the published TIDE, CLI."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO

from asffbench.results.error_analysis.error_bootstrap import build_scenarios, point_scenario_metrics
from asffbench.results.error_analysis.error_types import ERROR_TYPES, match_errors
from asffbench.results.intervals.bootstrap import match_detections, point_metrics
from tests.results.coco_cases import detections, ground_truth, write_run
from tests.results.tide_case import GOLDEN, tide_case, tide_numbers

SIZES = {"small": 20.0, "medium": 60.0, "large": 150.0}  # box sides, one per COCO size range


def grid_truth(images: int = 12) -> dict:
    """Boxes far apart (a 2 x 2 grid of 200 px cells) of every size and class: no overlap at all."""
    annotations = []
    for image in range(1, images + 1):
        for slot in range(4):
            side = list(SIZES.values())[(image + slot) % 3]
            x, y = 200.0 * (slot % 2) + 10, 200.0 * (slot // 2) + 10
            annotations.append({"id": len(annotations) + 1, "image_id": image, "category_id": 1 + (image + slot) % 3,
                                "bbox": [x, y, side, side], "area": side * side, "iscrowd": 0})
    return {"images": [{"id": i, "width": 640, "height": 640} for i in range(1, images + 1)],
            "categories": [{"id": c, "name": f"c{c}"} for c in (1, 2, 3)], "annotations": annotations}


def coco(data: dict) -> COCO:
    gt = COCO()
    gt.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
    return gt


def as_detections(data: dict, change=lambda ann, k: {}) -> list[dict]:
    """A detection per box, distinct scores (ranked as the boxes are listed), `change` applied."""
    out = []
    for k, ann in enumerate(data["annotations"]):
        det = {"image_id": ann["image_id"], "category_id": ann["category_id"], "bbox": list(ann["bbox"]),
               "score": 0.99 - 0.001 * k}
        det.update(change(ann, k))
        out.append(det)
    return out


def analysed(data: dict, dets: list[dict]) -> dict[str, float]:
    return point_scenario_metrics(build_scenarios(match_errors(coco(data), dets)))


def shifted(ann: dict, k: int) -> dict:
    x, y, w, h = ann["bbox"]
    return {"bbox": [x + 0.4 * w, y, w, h]} if k % 2 else {}  # IoU 0.43: a localisation error at every threshold


def swapped(ann: dict, k: int) -> dict:
    return {"category_id": 1 + ann["category_id"] % 3} if k % 2 else {}


def dropped_boxes(data: dict) -> list[dict]:
    return [d for k, d in enumerate(as_detections(data)) if k % 2]


def duplicated(data: dict) -> list[dict]:
    dets = as_detections(data)
    return dets + [{**d, "score": d["score"] - 0.0005} for d in dets]  # each copy ranked right below its box


def with_background(data: dict) -> list[dict]:
    extra = [{"image_id": image["id"], "category_id": 1 + (image["id"] + k) % 3, "bbox": [450.0, y, side, side],
              "score": 0.995 - 0.002 * image["id"] - 0.0003 * k}  # in the empty right band, one of each size
             for image in data["images"] for k, (y, side) in enumerate(zip((20.0, 100.0, 250.0), SIZES.values()))]
    return as_detections(data) + extra


ORACLES = {
    "loc": lambda data: as_detections(data, shifted),
    "cls": lambda data: as_detections(data, swapped),
    "dupe": duplicated,
    "bkg": with_background,
    "miss": dropped_boxes,
}


def test_detections_equal_to_the_ground_truth_lose_nothing():
    data = grid_truth()
    result = analysed(data, as_detections(data))
    for iou in ("50", "50:95"):
        for area in ("all", *SIZES):
            assert result[f"AP|{iou}|{area}"] == pytest.approx(1.0)
            for kind in ERROR_TYPES + ("FP", "FN"):
                assert result[f"{kind}|{iou}|{area}"] == pytest.approx(0.0, abs=1e-12), (kind, iou, area)
    assert all(result[f"class|c{c}|50:95"] == pytest.approx(1.0) for c in (1, 2, 3))


@pytest.mark.parametrize("error", sorted(ORACLES))
def test_each_damage_costs_its_own_error_type_only(error):
    data = grid_truth()
    result = analysed(data, ORACLES[error](data))
    for iou in ("50", "50:95"):
        for area in ("all", *SIZES):
            ap, lost = result[f"AP|{iou}|{area}"], result[f"{error}|{iou}|{area}"]
            assert ap < 0.99 and lost > 0.01, (iou, area)
            assert ap + lost == pytest.approx(1.0), (iou, area)  # the oracle fix restores a perfect AP
            for other in ERROR_TYPES:
                if other != error:
                    assert result[f"{other}|{iou}|{area}"] == pytest.approx(0.0, abs=1e-12), (other, iou, area)


def test_unfixed_ap_is_pycocotools_for_every_size_with_crowds_and_ties():
    data = ground_truth(images=60, seed=7)
    gt = coco(data)
    for seed in (1, 2):
        dets = detections(data, seed=seed)
        ours = point_scenario_metrics(build_scenarios(match_errors(gt, dets)))
        theirs = point_metrics(match_detections(gt, dets))
        for key, name in (("AP|50:95|all", "AP"), ("AP|50|all", "AP50"), ("AP|50:95|small", "APs"),
                          ("AP|50:95|medium", "APm"), ("AP|50:95|large", "APl")):
            assert ours[key] == pytest.approx(theirs[name], abs=1e-12), key
        assert all(ours[f"{k}|50:95|all"] >= -1e-12 for k in ERROR_TYPES + ("FP", "FN"))


def test_each_size_range_is_typed_alike_alone_or_with_the_others():
    data = ground_truth(images=60, seed=7)
    dets = detections(data, seed=1)
    together = analysed(data, dets)
    for area in SIZES:
        alone = point_scenario_metrics(build_scenarios(match_errors(coco(data), dets, areas=(area,))))
        for kind in ERROR_TYPES + ("FP", "FN"):
            for iou in ("50", "50:95"):
                key = f"{kind}|{iou}|{area}"
                assert alone[key] == pytest.approx(together[key], abs=1e-12), key


def test_matches_the_published_tide_within_a_tenth_of_a_point():
    golden = json.loads(GOLDEN.read_text())
    gt, dets = tide_case()
    ours = analysed(gt, dets)
    for key, value in golden.items():
        kind, iou = key.split("|")
        assert 100 * ours[f"{kind}|{iou}|all"] == pytest.approx(value, abs=0.1), key


def test_golden_numbers_are_tides_own():
    pytest.importorskip("tidecv")
    golden = json.loads(GOLDEN.read_text())
    assert tide_numbers(*tide_case()) == pytest.approx(golden, abs=1e-9)


@pytest.fixture
def grid_runs(tmp_path):
    data = grid_truth(images=30)
    gt = tmp_path / "instances_val.json"
    gt.write_text(json.dumps(data))
    good = write_run(tmp_path / "good", gt, as_detections(data))
    noisy = write_run(tmp_path / "noisy", gt, with_background(data))
    return good, noisy


def analyze_json(cli, *args):
    code, out, err = cli("analyze", *map(str, args), "--json")
    assert code == 0, err
    return json.loads(out)


def test_analyze_one_run_and_the_change_between_two(cli, grid_runs):
    good, noisy = grid_runs
    one = analyze_json(cli, noisy)
    assert one["ious"] == ["50", "50:95"] and "b" not in one
    assert one["errors"]["50"]["all"]["bkg"]["a"] > 0.05 and one["errors"]["50"]["all"]["loc"]["a"] == 0
    assert set(one["per_class"]) == {"c1", "c2", "c3"}
    two = analyze_json(cli, good, noisy, "--bootstrap", "100")
    bkg = two["errors"]["50:95"]["all"]["bkg"]
    assert bkg["delta"] > 0 and bkg["ci95"][0] > 0 and bkg["significant"]
    loc = two["errors"]["50:95"]["small"]["loc"]
    assert loc["delta"] == 0 and not loc["significant"]
    assert two["per_class"]["c1"]["50"]["delta"] < 0
    code, out, _ = cli("analyze", str(good), str(noisy), "--bootstrap", "50")
    assert code == 0 and "background" in out and " *" in out and "AP per class" in out


def test_a_run_against_itself_changes_nothing(cli, tmp_path):
    data = ground_truth(images=30, seed=3)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(data))
    run = write_run(tmp_path / "run", gt, detections(data, seed=4))
    result = analyze_json(cli, run, run, "--bootstrap", "50")
    for areas in result["errors"].values():
        for kinds in areas.values():
            for entry in kinds.values():
                assert entry["delta"] in (0.0, None) and not entry["significant"]


def test_voc_runs_are_analysed_at_iou_50(cli, tmp_path):
    data = grid_truth()
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps(data))
    run = write_run(tmp_path / "run", gt, as_detections(data, swapped))
    (run / "metrics.json").write_text(json.dumps({"ground_truth": str(gt), "metric": "voc"}))
    result = analyze_json(cli, run)
    assert result["ious"] == ["50"] and set(result["errors"]) == {"50"}
    assert result["errors"]["50"]["all"]["cls"]["a"] > 0.1


def test_different_images_are_refused(cli, tmp_path, one_line_error):
    data = grid_truth()
    gt, other = tmp_path / "gt.json", tmp_path / "other.json"
    gt.write_text(json.dumps(data))
    other.write_text(json.dumps({**data, "images": data["images"][:-1],
                                 "annotations": [a for a in data["annotations"] if a["image_id"] != 12]}))
    a = write_run(tmp_path / "a", gt, as_detections(data))
    b = write_run(tmp_path / "b", other, [d for d in as_detections(data) if d["image_id"] != 12])
    code, _, err = cli("analyze", str(a), str(b))
    one_line_error(code, err, "cover different images")
    code, _, err = cli("analyze", str(tmp_path / "nowhere"))
    one_line_error(code, err, "no such run directory")

