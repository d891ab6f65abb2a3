"""Pascal VOC detection metric: AP at IoU > 0.5 per class, `difficult` objects ignored.

Two conventions, both reported:
- `AP07` (VOC2007 devkit): the mean of the interpolated precision at the 11 recalls 0, 0.1, ..., 1;
- `AP` (VOC2010+ devkit): the area under the interpolated precision-recall curve.

Matching follows the devkit: per class and image, detections in decreasing score order take the
ground-truth box of highest IoU (difficult ones included); IoU > 0.5 with a not yet taken,
non-difficult box is a true positive, with a taken one a false positive (duplicate), with a
difficult one neither (ignored); anything else is a false positive. Boxes are continuous
0-based corners, whose IoU equals the devkit's +1-pixel IoU on 1-based coordinates.

Matching never looks across images, so it is done once (`match_detections`) and `voc_metrics`
re-accumulates it for any weighting of the images: `image_weights[i]` copies of image `i`
(a bootstrap resample's counts, or a 0/1 subset mask). Pure numpy, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

IOU_THRESHOLD = 0.5
RECALL_POINTS_07 = np.linspace(0.0, 1.0, 11)
CONVENTIONS = {
    "mAP": "VOC2010+: area under the interpolated precision-recall curve, IoU > 0.5, difficult ignored",
    "mAP07": "VOC2007: 11-point interpolated AP, IoU > 0.5, difficult ignored",
    "AP": "COCO AP@[.5:.95] (pycocotools) on the same detections, difficult boxes as crowd regions",
}


@dataclass(frozen=True)
class VocMatches:
    """Every detection's outcome, and the ground truth each image contributes.

    Detections are grouped by class, each class in decreasing score order (stable), so class
    `c` is the slice `class_bounds[c]:class_bounds[c + 1]`. `positives[i, c]`: non-difficult
    boxes of class `c` in image `i`.
    """

    class_names: list[str]
    image_ids: list[Any]
    labels: np.ndarray  # (D,) class index
    image_index: np.ndarray  # (D,) row of the detection's image in image_ids
    true_positive: np.ndarray  # (D,) bool
    ignored: np.ndarray  # (D,) bool: matched a difficult box
    positives: np.ndarray  # (I, C) int
    class_bounds: np.ndarray  # (C + 1,)

    @property
    def false_positive(self) -> np.ndarray:
        return ~self.true_positive & ~self.ignored


def box_iou(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU (N, M) of xyxy boxes."""
    lt = np.maximum(boxes[:, None, :2], others[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], others[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=2)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    area_other = np.prod(others[:, 2:] - others[:, :2], axis=1)
    union = area[:, None] + area_other[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_image(det_boxes: np.ndarray, gt_boxes: np.ndarray, gt_difficult: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(true positive, ignored) of one image's detections of one class, given in score order."""
    tp = np.zeros(len(det_boxes), dtype=bool)
    ignored = np.zeros(len(det_boxes), dtype=bool)
    if len(gt_boxes) == 0 or len(det_boxes) == 0:
        return tp, ignored
    iou = box_iou(det_boxes, gt_boxes)
    taken = np.zeros(len(gt_boxes), dtype=bool)
    for d, best in enumerate(iou.argmax(axis=1)):
        if iou[d, best] <= IOU_THRESHOLD:
            continue
        if gt_difficult[best]:
            ignored[d] = True
        elif not taken[best]:
            tp[d] = taken[best] = True
    return tp, ignored


def match_detections(gt_dataset: dict, detections: Sequence[dict], image_ids: Optional[Sequence[Any]] = None) -> VocMatches:
    """Match COCO results (image_id, category_id, bbox xywh, score) against a COCO dataset dict.

    Annotations with `difficult` (VOC) or `iscrowd` (COCO) set are difficult. `image_ids`: the
    images evaluated (default: all of the dataset); detections on other images are left out.
    """
    categories = sorted(gt_dataset["categories"], key=lambda c: c["id"])
    label_of = {c["id"]: k for k, c in enumerate(categories)}
    ids = [image["id"] for image in gt_dataset["images"]] if image_ids is None else list(image_ids)
    row_of = {image_id: i for i, image_id in enumerate(ids)}
    positives = np.zeros((len(ids), len(categories)), dtype=np.int64)
    gt: dict[tuple[int, int], list] = {}
    for ann in gt_dataset["annotations"]:
        row = row_of.get(ann["image_id"])
        if row is None:
            continue
        difficult = bool(ann.get("difficult", 0) or ann.get("iscrowd", 0))
        label = label_of[ann["category_id"]]
        gt.setdefault((row, label), []).append((xyxy(ann["bbox"]), difficult))
        positives[row, label] += not difficult

    kept = [d for d in detections if d["image_id"] in row_of and d["category_id"] in label_of]
    # By class, then by decreasing score; ties keep their order (lexsort is stable).
    order = np.lexsort((-np.array([float(d["score"]) for d in kept]),
                        np.array([label_of[d["category_id"]] for d in kept], dtype=np.int64)))
    dets = [kept[k] for k in order]
    labels = np.array([label_of[d["category_id"]] for d in dets], dtype=np.int64)
    rows = np.array([row_of[d["image_id"]] for d in dets], dtype=np.int64)
    tp = np.zeros(len(dets), dtype=bool)
    ignored = np.zeros(len(dets), dtype=bool)
    groups: dict[tuple[int, int], list[int]] = {}
    for k in range(len(dets)):
        groups.setdefault((int(rows[k]), int(labels[k])), []).append(k)
    for key, members in groups.items():
        truth = gt.get(key, [])
        gt_boxes = np.array([t[0] for t in truth], dtype=np.float64).reshape(-1, 4)
        gt_difficult = np.array([t[1] for t in truth], dtype=bool)
        det_boxes = np.array([xyxy(dets[k]["bbox"]) for k in members], dtype=np.float64).reshape(-1, 4)
        tp[members], ignored[members] = match_image(det_boxes, gt_boxes, gt_difficult)
    names = [str(c.get("name", c["id"])) for c in categories]
    bounds = np.searchsorted(labels, np.arange(len(categories) + 1), side="left")
    return VocMatches(names, ids, labels, rows, tp, ignored, positives, bounds)


def xyxy(bbox: Sequence[float]) -> list[float]:
    x, y, w, h = (float(v) for v in bbox)
    return [x, y, x + w, y + h]


def average_precision(tp: np.ndarray, fp: np.ndarray, positives: float) -> tuple[Optional[float], Optional[float]]:
    """(area AP, 11-point AP) from weighted TP/FP counts in score order; None without positives."""
    if positives <= 0:
        return None, None
    tp_cum, fp_cum = np.cumsum(tp), np.cumsum(fp)
    recall = tp_cum / positives
    counted = tp_cum + fp_cum
    precision = np.divide(tp_cum, counted, out=np.zeros_like(tp_cum), where=counted > 0)
    # The interpolated precision at recall r is the best precision at any recall >= r.
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    steps = np.diff(np.concatenate([[0.0], recall]))
    area = float(np.sum(steps * envelope))
    reached = np.searchsorted(recall, RECALL_POINTS_07, side="left")  # first point with recall >= t
    padded = np.concatenate([envelope, [0.0]])
    eleven = float(np.mean(padded[reached]))
    return area, eleven


def voc_metrics(matches: VocMatches, image_weights: Optional[np.ndarray] = None) -> dict:
    """`mAP` (area), `mAP07` (11-point), `per_class_voc` {name: {"AP", "AP07"}} as fractions.

    `image_weights` (I,): how many times each image of `matches.image_ids` counts (default 1).
    A class without (weighted) positives has AP None and is left out of the means.
    """
    weights = np.ones(len(matches.image_ids)) if image_weights is None else np.asarray(image_weights, dtype=np.float64)
    if weights.shape != (len(matches.image_ids),):
        raise ValueError(f"image_weights: need shape ({len(matches.image_ids)},), got {weights.shape}")
    det_weight = weights[matches.image_index]
    tp, fp = det_weight * matches.true_positive, det_weight * matches.false_positive
    positives = weights @ matches.positives
    per_class: dict[str, dict[str, Optional[float]]] = {}
    for c, name in enumerate(matches.class_names):
        mine = slice(matches.class_bounds[c], matches.class_bounds[c + 1])
        area, eleven = average_precision(tp[mine], fp[mine], positives[c])
        per_class[name] = {"AP": area, "AP07": eleven}
    return {
        "mAP": mean_defined([v["AP"] for v in per_class.values()]),
        "mAP07": mean_defined([v["AP07"] for v in per_class.values()]),
        "per_class_voc": per_class,
    }


def mean_defined(values: Sequence[Optional[float]]) -> Optional[float]:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def voc_evaluate(gt_dataset: dict, detections: Sequence[dict], image_ids: Optional[Sequence[Any]] = None) -> dict:
    """VOC metrics of COCO results on a COCO dataset dict, with the conventions they follow."""
    metrics = voc_metrics(match_detections(gt_dataset, detections, image_ids))
    metrics["conventions"] = dict(CONVENTIONS)
    return metrics
