"""The vectorised COCO matcher gives pycocotools' `evaluate()` table, detection by detection."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from asffbench.coco_format import ground_truth_dict
from asffbench.engine.coco_match import match_coco, matches_from_evaluator
from asffbench.engine.match_table import CocoMatches
from tests.results.coco_cases import detections, ground_truth

COLUMNS = ("image", "category", "score", "matched", "ignored", "positives")


def reference(data: dict, dets: list[dict], max_det: int = 100) -> CocoMatches:
    gt = COCO()
    gt.dataset = ground_truth_dict(data)
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(copy.deepcopy(dets)) if dets else COCO(), "bbox")
        evaluator.params.imgIds = sorted(gt.getImgIds())
        evaluator.params.maxDets = [1, 10, max_det]
        evaluator.evaluate()
    return matches_from_evaluator(evaluator)


def assert_same_table(ours: CocoMatches, theirs: CocoMatches) -> None:
    assert ours.image_ids == theirs.image_ids and ours.category_ids == theirs.category_ids
    for name in COLUMNS:
        mine, ref = getattr(ours, name), getattr(theirs, name)
        assert mine.shape == ref.shape, name
        assert np.array_equal(mine, ref), (name, np.argwhere(mine != ref)[:5])


def crowded(seed: int) -> tuple[dict, list[dict]]:
    """The hard cases: duplicate boxes (IoU ties), boxes on the area bounds, crowd regions, a box
    with id 0, many detections per image and class (past max_det), one unknown category."""
    rng = np.random.default_rng(seed)
    annotations = []
    for image in range(1, 7):
        for _ in range(int(rng.integers(3, 12))):
            side = float(rng.choice([32.0, 96.0, rng.uniform(5, 200)]))  # exactly 32^2, 96^2 areas too
            box = [float(rng.integers(0, 100)), float(rng.integers(0, 100)), side, side]
            for _copy in range(int(rng.integers(1, 3))):  # a duplicate: equal IoU with both
                annotations.append({"id": len(annotations), "image_id": image, "category_id": int(rng.integers(1, 3)),
                                    "bbox": box, "area": side * side, "iscrowd": int(rng.random() < 0.15)})
    data = {"images": [{"id": i, "width": 300, "height": 300} for i in range(1, 7)],
            "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}],
            "annotations": annotations}
    dets = []
    for ann in annotations:
        for _ in range(int(rng.integers(0, 6))):
            x, y, w, h = ann["bbox"]
            shift = rng.integers(-4, 5, 2).astype(float)  # whole pixels: exact IoUs, some at the thresholds
            dets.append({"image_id": ann["image_id"], "category_id": ann["category_id"],
                         "bbox": [x + shift[0], y + shift[1], w, h], "score": float(rng.choice([0.5, 0.7, 0.9]))})
    dets.append({"image_id": 1, "category_id": 9, "bbox": [0.0, 0.0, 10.0, 10.0], "score": 0.9})  # dropped
    return data, dets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_sets_match_pycocotools(seed):
    data = ground_truth(images=30, seed=seed)
    dets = detections(data, seed=seed, decimals=1 if seed else None)
    assert_same_table(match_coco(ground_truth_dict(data), dets), reference(data, dets))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_ties_crowds_bounds_and_max_det_match_pycocotools(seed):
    data, dets = crowded(seed)
    for max_det in (100, 12):
        assert_same_table(match_coco(ground_truth_dict(data), dets, max_det), reference(data, dets, max_det))
    assert match_coco(ground_truth_dict(data), dets).matched.any()


def test_no_detections_still_count_the_ground_truth():
    data = ground_truth(images=10, seed=5)
    ours = match_coco(ground_truth_dict(data), [])
    assert ours.image.size == 0 and ours.positives.sum() > 0
    assert_same_table(ours, reference(data, []))
