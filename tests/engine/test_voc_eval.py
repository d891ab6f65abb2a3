"""VOC mAP against hand-computed APs (both conventions), and its re-weighting over images."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

from asffbench.engine import voc_eval
from asffbench.engine.voc_eval import match_detections, voc_evaluate, voc_metrics


def ann(ann_id, image_id, cat, bbox, difficult=0):
    return {"id": ann_id, "image_id": image_id, "category_id": cat, "bbox": bbox, "difficult": difficult,
            "iscrowd": difficult, "area": bbox[2] * bbox[3]}


def det(image_id, cat, bbox, score):
    return {"image_id": image_id, "category_id": cat, "bbox": bbox, "score": score}


# cat (id 1): image 1 holds g1 and a difficult g2; image 2 holds g3 and g4 (g4 is never found).
# dog (id 2): one box, found. bird (id 3): no ground truth, one false detection.
GT = {
    "images": [{"id": 1, "file_name": "a.jpg", "width": 200, "height": 100},
               {"id": 2, "file_name": "b.jpg", "width": 200, "height": 100}],
    "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}, {"id": 3, "name": "bird"}],
    "annotations": [
        ann(1, 1, 1, [0, 0, 40, 40]),
        ann(2, 1, 1, [100, 0, 40, 40], difficult=1),
        ann(3, 2, 1, [0, 0, 40, 40]),
        ann(4, 2, 1, [100, 50, 40, 40]),
        ann(5, 2, 2, [50, 10, 30, 30]),
    ],
}
DETECTIONS = [
    det(1, 1, [1, 1, 40, 40], 0.9),  # g1: true positive
    det(1, 1, [0, 2, 40, 39], 0.8),  # g1 again: duplicate, false positive
    det(1, 1, [101, 0, 40, 40], 0.7),  # difficult g2: ignored
    det(2, 1, [2, 0, 40, 40], 0.6),  # g3: true positive
    det(2, 1, [60, 60, 20, 20], 0.5),  # nothing there: false positive
    det(2, 2, [50, 10, 30, 31], 0.95),  # the dog
    det(1, 3, [0, 0, 10, 10], 0.4),  # a bird where there is none
]


def test_golden_aps_in_both_conventions():
    # cat, 3 positives (g2 is difficult); in score order TP, FP, (ignored), TP, FP:
    # (recall, precision) = (1/3, 1), (1/3, 1/2), (2/3, 2/3), (2/3, 1/2).
    # Area: 1/3 * 1 + 1/3 * 2/3 = 5/9. 11-point: recalls 0..0.3 -> 1 (4 points), 0.4..0.6 -> 2/3
    # (3 points), 0.7..1 -> 0: (4 + 2) / 11 = 6/11.
    metrics = voc_evaluate(GT, DETECTIONS)
    per_class = metrics["per_class_voc"]
    assert per_class["cat"]["AP"] == pytest.approx(5 / 9)
    assert per_class["cat"]["AP07"] == pytest.approx(6 / 11)
    assert per_class["dog"] == {"AP": pytest.approx(1.0), "AP07": pytest.approx(1.0)}
    assert per_class["bird"] == {"AP": None, "AP07": None}  # no ground truth: left out of the mean
    assert metrics["mAP"] == pytest.approx((5 / 9 + 1) / 2)
    assert metrics["mAP07"] == pytest.approx((6 / 11 + 1) / 2)
    assert set(metrics["conventions"]) == {"mAP", "mAP07", "AP"}


def test_matching_outcomes():
    matches = match_detections(GT, DETECTIONS)
    cat = matches.labels == 0
    assert matches.true_positive[cat].tolist() == [True, False, False, True, False]
    assert matches.ignored[cat].tolist() == [False, False, True, False, False]
    assert matches.positives.tolist() == [[1, 0, 0], [2, 1, 0]]


def test_iou_must_exceed_one_half():
    gt = {**GT, "annotations": [ann(1, 1, 1, [0, 0, 20, 10])]}
    half = det(1, 1, [0, 0, 10, 10], 0.9)  # IoU exactly 0.5: a miss, as in the devkit (ov > 0.5)
    assert voc_evaluate(gt, [half])["per_class_voc"]["cat"]["AP"] == 0.0


def test_image_weights_are_copies_of_images():
    matches = match_detections(GT, DETECTIONS)
    only_first = voc_metrics(matches, np.array([1.0, 0.0]))
    assert only_first["per_class_voc"]["cat"]["AP"] == pytest.approx(1.0)  # g1 found first
    assert only_first["per_class_voc"]["dog"]["AP"] is None
    # Weight 2 on image 2 is the dataset with image 2 twice.
    doubled_gt = {**GT, "images": GT["images"] + [{"id": 3, "file_name": "c.jpg", "width": 200, "height": 100}],
                  "annotations": GT["annotations"] + [{**a, "id": a["id"] + 10, "image_id": 3}
                                                      for a in GT["annotations"] if a["image_id"] == 2]}
    doubled_dets = DETECTIONS + [{**d, "image_id": 3} for d in DETECTIONS if d["image_id"] == 2]
    expected = voc_evaluate(doubled_gt, doubled_dets)
    weighted = voc_metrics(matches, np.array([1.0, 2.0]))
    assert weighted["mAP"] == pytest.approx(expected["mAP"])
    assert weighted["mAP07"] == pytest.approx(expected["mAP07"])
    with pytest.raises(ValueError):
        voc_metrics(matches, np.ones(3))


def test_no_detections_gives_zero():
    metrics = voc_evaluate(GT, [])
    assert metrics["mAP"] == 0.0 and metrics["mAP07"] == 0.0


def test_module_is_torch_free():
    tree = ast.parse(inspect.getsource(voc_eval))
    imported = {n.names[0].name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "dataclasses", "typing", "numpy"}
