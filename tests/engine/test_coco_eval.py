"""COCO bbox metrics: known answers and backend agreement."""

from __future__ import annotations

import random

import pytest

from asffbench.engine.coco_eval import METRIC_NAMES, coco_evaluate
from asffbench.errors import UserError

BACKENDS = ["pycocotools", "faster_coco_eval"]


def dataset(images: int, boxes: list[tuple[int, int, list[float]]], categories=("cat", "dog")) -> dict:
    """A COCO dict; `boxes` are (image_id, category_id, xywh). No iscrowd/area, as users write."""
    return {
        "images": [{"id": i, "width": 640, "height": 480, "file_name": f"{i}.jpg"} for i in range(1, images + 1)],
        "categories": [{"id": k + 1, "name": name} for k, name in enumerate(categories)],
        "annotations": [
            {"id": n + 1, "image_id": img, "category_id": cat, "bbox": list(bbox)}
            for n, (img, cat, bbox) in enumerate(boxes)
        ],
    }


def result(image_id: int, category_id: int, bbox: list[float], score: float) -> dict:
    return {"image_id": image_id, "category_id": category_id, "bbox": list(bbox), "score": score}


@pytest.mark.parametrize("backend", BACKENDS)
def test_ground_truth_as_detections_gives_perfect_scores(backend: str) -> None:
    boxes = [(1, 1, [10, 10, 50, 40]), (1, 2, [200, 100, 150, 120]), (2, 1, [5, 5, 20, 20])]
    gt = dataset(2, boxes)
    dets = [result(img, cat, bbox, 1.0) for img, cat, bbox in boxes]
    metrics = coco_evaluate(gt, dets, backend=backend)
    for name in ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR10", "AR100"):
        assert metrics[name] == pytest.approx(1.0), name
    assert metrics["per_class"] == {"cat": pytest.approx(1.0), "dog": pytest.approx(1.0)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_built_precision_recall_gives_known_ap(backend: str) -> None:
    # One image, one class, two 50x50 ground truths (medium). Detections by score:
    #   0.9 hits GT1 exactly  -> precision 1/1, recall 1/2
    #   0.8 hits nothing      -> precision 1/2, recall 1/2
    #   0.7 hits GT2 exactly  -> precision 2/3, recall 2/2
    # COCO interpolates precision as the max to the right: 1.0 for recall <= 0.5 (51 of the 101
    # recall points 0, 0.01, ..., 1) and 2/3 above (50 points): AP = (51 + 50 * 2/3) / 101.
    # The matches are exact, so every IoU threshold gives the same AP. With one detection per
    # image (AR1) only the 0.9 detection counts: recall 1/2.
    gt = dataset(1, [(1, 1, [10, 10, 50, 50]), (1, 1, [300, 300, 50, 50])], categories=("cat",))
    dets = [
        result(1, 1, [10, 10, 50, 50], 0.9),
        result(1, 1, [150, 150, 50, 50], 0.8),
        result(1, 1, [300, 300, 50, 50], 0.7),
    ]
    expected_ap = (51 + 50 * 2 / 3) / 101
    metrics = coco_evaluate(gt, dets, backend=backend)
    assert metrics["AP"] == pytest.approx(expected_ap)
    assert metrics["AP50"] == pytest.approx(expected_ap)
    assert metrics["AP75"] == pytest.approx(expected_ap)
    assert metrics["APm"] == pytest.approx(expected_ap)
    assert metrics["APs"] is None and metrics["APl"] is None  # no ground truth of those sizes
    assert metrics["AR1"] == pytest.approx(0.5)
    assert metrics["AR100"] == pytest.approx(1.0)
    assert metrics["per_class"]["cat"] == pytest.approx(expected_ap)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_detections_gives_zero_not_a_crash(backend: str) -> None:
    gt = dataset(2, [(1, 1, [10, 10, 50, 50]), (2, 2, [0, 0, 200, 200])])
    metrics = coco_evaluate(gt, [], backend=backend)
    assert metrics["AP"] == 0.0 and metrics["AP50"] == 0.0 and metrics["AR100"] == 0.0
    assert metrics["APm"] == 0.0 and metrics["APl"] == 0.0
    assert metrics["APs"] is None
    assert metrics["per_class"] == {"cat": 0.0, "dog": 0.0}


def test_faster_backend_matches_pycocotools() -> None:
    rng = random.Random(0)
    boxes, dets = [], []
    for image_id in range(1, 21):
        for _ in range(rng.randint(0, 6)):
            cat = rng.randint(1, 3)
            w, h = rng.uniform(8, 200), rng.uniform(8, 200)
            x, y = rng.uniform(0, 400), rng.uniform(0, 300)
            boxes.append((image_id, cat, [x, y, w, h]))
            if rng.random() < 0.8:  # a jittered hit, sometimes with the wrong class
                jitter = [x + rng.uniform(-8, 8), y + rng.uniform(-8, 8), w * rng.uniform(0.8, 1.2), h * rng.uniform(0.8, 1.2)]
                wrong = rng.random() < 0.15
                dets.append(result(image_id, rng.randint(1, 3) if wrong else cat, jitter, rng.random()))
        for _ in range(rng.randint(0, 3)):  # clutter
            dets.append(result(image_id, rng.randint(1, 3), [rng.uniform(0, 500), rng.uniform(0, 400), 30, 30], rng.random() * 0.5))
    gt = dataset(20, boxes, categories=("a", "b", "c"))
    reference = coco_evaluate(gt, dets, backend="pycocotools")
    faster = coco_evaluate(gt, dets, backend="faster_coco_eval")
    assert 0.2 < reference["AP50"] < 1.0  # a non-trivial case
    for name in METRIC_NAMES:
        assert faster[name] == pytest.approx(reference[name], abs=1e-9), name
    for name, ap in reference["per_class"].items():
        assert faster["per_class"][name] == pytest.approx(ap, abs=1e-9), name


def test_evaluation_restricted_to_image_ids() -> None:
    gt = dataset(2, [(1, 1, [10, 10, 50, 50]), (2, 1, [10, 10, 50, 50])], categories=("cat",))
    dets = [result(1, 1, [10, 10, 50, 50], 0.9)]
    assert coco_evaluate(gt, dets)["AP"] < 0.6
    assert coco_evaluate(gt, dets, image_ids=[1])["AP"] == pytest.approx(1.0)


def test_unknown_backend_is_a_user_error() -> None:
    with pytest.raises(UserError, match="eval.backend=nope"):
        coco_evaluate(dataset(1, []), [], backend="nope")


def test_missing_faster_backend_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "faster_coco_eval", None)  # what an absent package looks like
    with pytest.raises(UserError, match="faster-coco-eval"):
        coco_evaluate(dataset(1, []), [], backend="faster_coco_eval")
