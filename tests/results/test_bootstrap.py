"""The bootstrap core: pycocotools' numbers exactly, and replicates as weighted re-evaluations."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from asffbench.coco_format import ground_truth_dict
from asffbench.results.intervals.bootstrap import METRICS, match_detections, point_metrics, replicate_metrics
from tests.results.coco_cases import detections, ground_truth


def coco(data: dict) -> COCO:
    index = COCO()
    index.dataset = ground_truth_dict(data)
    with contextlib.redirect_stdout(io.StringIO()):
        index.createIndex()
    return index


def pycocotools_metrics(gt: COCO, dets: list[dict]) -> dict[str, float]:
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(gt, gt.loadRes(copy.deepcopy(dets)), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return dict(zip(METRICS, evaluator.stats[:6]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_estimates_equal_pycocotools(seed):
    data = ground_truth(seed=seed)
    gt, dets = coco(data), detections(data, seed=seed)  # rounded scores: many ties
    ours = point_metrics(match_detections(gt, dets))
    reference = pycocotools_metrics(gt, dets)
    for name in METRICS:
        assert ours[name] == pytest.approx(reference[name], abs=1e-6), name


def test_point_estimates_match_the_engine_evaluator():
    from asffbench.engine.coco_eval import coco_evaluate

    data = ground_truth(seed=3)
    dets = detections(data, seed=3)
    ours = point_metrics(match_detections(coco(data), dets))
    engine = coco_evaluate(data, dets)
    for name in METRICS:
        assert ours[name] == pytest.approx(engine[name], abs=1e-6), name


def copied_images(data: dict, dets: list[dict], counts: np.ndarray) -> tuple[dict, list[dict]]:
    """The dataset with image i present counts[i] times (new ids), as a bootstrap draw is."""
    images, annotations, results = [], [], []
    for image, count in zip(sorted(data["images"], key=lambda i: i["id"]), counts):
        for _ in range(int(count)):
            new_id = len(images) + 1
            images.append({**image, "id": new_id})
            own = [a for a in data["annotations"] if a["image_id"] == image["id"]]
            annotations += [{**a, "id": len(annotations) + k + 1, "image_id": new_id} for k, a in enumerate(own)]
            results += [{**d, "image_id": new_id} for d in dets if d["image_id"] == image["id"]]
    return {**data, "images": images, "annotations": annotations}, results


def test_a_replicate_is_pycocotools_on_the_drawn_images():
    data = ground_truth(seed=4)
    dets = detections(data, seed=4, decimals=None)  # distinct scores: copies sort as pycocotools sorts them
    matched = match_detections(coco(data), dets)
    counts = np.random.default_rng(0).multinomial(len(data["images"]), np.full(len(data["images"]), 1 / 40), 2)
    ours = replicate_metrics(matched, counts.astype(float))
    for row, draw in enumerate(counts):
        drawn, drawn_dets = copied_images(data, dets, draw)
        reference = pycocotools_metrics(coco(drawn), drawn_dets)
        for name in METRICS:
            assert ours[name][row] == pytest.approx(reference[name], abs=1e-9), name


def test_no_detections_give_zero_and_missing_sizes_give_nan():
    data = ground_truth(seed=5)
    data["annotations"] = [a for a in data["annotations"] if a["area"] < 32 ** 2]  # small boxes only
    values = point_metrics(match_detections(coco(data), []))
    assert values["AP"] == 0.0 and values["APs"] == 0.0
    assert np.isnan(values["APl"])


def test_pycocotools_matcher_is_the_reference_of_the_vectorised_one():
    data = ground_truth(seed=6)
    gt, dets = coco(data), detections(data, seed=6)
    ours, reference = match_detections(gt, dets), match_detections(gt, dets, matcher="pycocotools")
    weights = np.random.default_rng(1).multinomial(40, np.full(40, 1 / 40), 3).astype(float)
    assert point_metrics(ours) == point_metrics(reference)
    for name, values in replicate_metrics(ours, weights).items():
        np.testing.assert_array_equal(values, replicate_metrics(reference, weights)[name])
    with pytest.raises(ValueError, match="matcher"):
        match_detections(gt, dets, matcher="faster")
