"""COCO AP of many image resamples at once: match once, then re-accumulate from image weights.

COCOeval's `evaluate()` matches detections to ground truth image by image; that matching does not
depend on which images a bootstrap replicate draws. So it is done once (by the vectorised matcher
`asffbench.engine.coco_match`, which gives pycocotools' table detection by detection, or by
pycocotools itself), kept as a match table (`asffbench.engine.match_table`; a run directory
stores it), and a replicate is a vector of image weights (how often each image was drawn). Re-accumulating follows
`COCOeval.accumulate` step for step, with every detection and ground-truth box counted as often as
its image was drawn: per category and area range, detections sorted by score (stable, in image
order, as pycocotools sorts them), cumulative true and false positives, precision made monotone
from the right, read at the 101 recall thresholds; a category without (weighted) ground truth is
left out of the mean. With every weight 1 this is exactly pycocotools' AP.

The twist that makes it fast: precision interpolated at a recall threshold is always read at a
true positive (recall only rises there, and precision between two true positives only falls), so
each (category, area, IoU threshold) keeps only its true positives, plus cumulative counts of the
detections before each of them. Everything is numpy over all replicates at once.

VOC runs also carry the VOC matching (`asffbench.engine.voc_eval`, numpy only) of the same
detections; its mAP and mAP07 are re-accumulated from the very same weight rows.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from asffbench.engine.coco_match import match_coco, matches_from_evaluator
from asffbench.engine.match_table import CocoMatches
from asffbench.engine.voc_eval import VocMatches, voc_metrics

# The bootstrapped metrics: name -> (area range label, IoU threshold or None for .50:.95).
METRICS = {
    "AP": ("all", None),
    "AP50": ("all", 0.5),
    "AP75": ("all", 0.75),
    "APs": ("small", None),
    "APm": ("medium", None),
    "APl": ("large", None),
}
VOC_METRICS = ("mAP", "mAP07")  # VOC mAP@0.5: area (VOC2010+) and 11-point (VOC2007)
EPS = np.spacing(1)  # pycocotools' guard against 0 / 0 in precision


@dataclass
class IouPoints:
    """One IoU threshold of a group: where its true positives and ignored detections are."""

    tp: np.ndarray  # positions (into the group's detections) of the true positives, ascending
    ignored: np.ndarray  # positions of the detections this threshold ignores, ascending


@dataclass
class Group:
    """The detections of one (category, area range) that count at some IoU threshold."""

    category: int  # index into the evaluation's catIds
    area: int  # index into areaRng
    images: np.ndarray  # image index of each detection, in pycocotools' score order
    gt_images: np.ndarray  # images with ground truth that is not ignored
    gt_counts: np.ndarray  # how many such boxes each of them has
    thresholds: list[IouPoints]


@dataclass
class MatchedDetections:
    """COCOeval's matching of one detection set, reduced to what re-accumulation needs."""

    image_ids: list[Any]  # the evaluated images, sorted (weights are indexed like this)
    num_categories: int
    area_labels: list[str]
    iou_thresholds: np.ndarray
    recall_thresholds: np.ndarray
    groups: list[Group]
    voc: Optional[VocMatches] = None  # the VOC matching, on the same image_ids, for VOC runs

    @property
    def num_images(self) -> int:
        return len(self.image_ids)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """What `replicate_metrics` returns for this run: VOC mAPs first where matched."""
        return (VOC_METRICS if self.voc is not None else ()) + tuple(METRICS)


def load_results(gt: COCO, detections: Sequence[dict]) -> COCO:
    if detections:
        with contextlib.redirect_stdout(io.StringIO()):
            return gt.loadRes(copy.deepcopy(list(detections)))
    # loadRes cannot take an empty list; no detections evaluate to zero recall.
    empty = COCO()
    empty.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"],
                     "annotations": []}
    with contextlib.redirect_stdout(io.StringIO()):
        empty.createIndex()
    return empty


def evaluated(gt: COCO, detections: Sequence[dict], max_det: int = 100) -> COCOeval:
    """COCOeval after its per-image matching (bbox, every image of `gt`, once)."""
    evaluator = COCOeval(gt, load_results(gt, detections), "bbox")
    evaluator.params.imgIds = sorted(gt.getImgIds())
    evaluator.params.maxDets = [1, 10, max_det]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
    return evaluator


def match_detections(gt: COCO, detections: Sequence[dict], max_det: int = 100,
                     matcher: str = "numpy") -> MatchedDetections:
    """COCOeval's per-image matching (bbox, every image of `gt`), done once: by the vectorised
    matcher (`engine.coco_match`, the default) or by pycocotools itself (`matcher="pycocotools"`,
    the reference; both give the same table)."""
    if matcher == "numpy":
        return matched_from_table(match_coco(gt.dataset, detections, max_det))
    if matcher != "pycocotools":
        raise ValueError(f"matcher {matcher!r}: choose numpy or pycocotools")
    return matched_from(evaluated(gt, detections, max_det))


def matched_from(evaluator: COCOeval) -> MatchedDetections:
    """The outcome of an evaluator whose `evaluate()` has run (largest maxDets counts)."""
    return matched_from_table(matches_from_evaluator(evaluator))


def matched_from_table(table: CocoMatches) -> MatchedDetections:
    """What re-accumulation needs of a match table: one group per (category, area range) that has
    ground truth somewhere (pycocotools leaves the others out of the mean)."""
    bounds = table.category_bounds()
    groups = []
    for k in range(len(table.category_ids)):
        rows = slice(bounds[k], bounds[k + 1])
        for a in range(len(table.area_labels)):
            group = make_group(table, rows, k, a)
            if group is not None:
                groups.append(group)
    return MatchedDetections(image_ids=list(table.image_ids), num_categories=len(table.category_ids),
                             area_labels=list(table.area_labels), iou_thresholds=np.asarray(table.iou_thresholds),
                             recall_thresholds=np.asarray(table.recall_thresholds), groups=groups)


def make_group(table: CocoMatches, rows: slice, category: int, area: int) -> Group | None:
    """One (category, area) from the table's rows of that category (None without ground truth)."""
    counts = table.positives[:, category, area]
    gt_images = np.flatnonzero(counts)
    if not gt_images.size:
        return None  # never any ground truth: pycocotools leaves the category out (-1)
    matched, ignored = table.matched[rows, area].T, table.ignored[rows, area].T  # (T, detections)
    counted_somewhere = (~ignored).any(axis=0)  # a detection ignored at every IoU never counts
    matched, ignored = matched[:, counted_somewhere], ignored[:, counted_somewhere]
    thresholds = [IouPoints(tp=np.flatnonzero(matched[t] & ~ignored[t]), ignored=np.flatnonzero(ignored[t]))
                  for t in range(matched.shape[0])]
    return Group(category=category, area=area, images=table.image[rows][counted_somewhere],
                 gt_images=gt_images, gt_counts=counts[gt_images].astype(float), thresholds=thresholds)


def precision_sums(group: Group, weights: np.ndarray, recall_thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, T) sums of interpolated precision over the recall thresholds, and (R,) whether the
    group has ground truth in each replicate, for `weights` (R, images)."""
    replicates, ious = weights.shape[0], len(group.thresholds)
    positives = weights[:, group.gt_images] @ group.gt_counts
    sums = np.zeros((replicates, ious))
    if group.images.size == 0:
        return sums, positives > 0
    # Draw counts and their running sums are whole numbers, exact in float32 up to 2**24: half
    # the memory traffic of float64 where most of the time goes; ratios are taken in float64.
    drawn = weights[:, group.images].astype(np.float32)
    seen_all = np.cumsum(drawn, axis=1)
    safe_positives = np.where(positives > 0, positives, 1.0)[:, None]  # replicates without any are dropped later
    for t, points in enumerate(group.thresholds):
        if points.tp.size:
            sums[:, t] = interpolated_sum(points, drawn, seen_all, safe_positives, recall_thresholds)
    return sums, positives > 0


def interpolated_sum(points: IouPoints, drawn: np.ndarray, seen_all: np.ndarray,
                     positives: np.ndarray, recall_thresholds: np.ndarray) -> np.ndarray:
    """Sum over recall thresholds of the interpolated precision, at the true positives only."""
    tp = np.cumsum(drawn[:, points.tp], axis=1, dtype=np.float64)
    seen = seen_all[:, points.tp].astype(np.float64)  # detections up to each true positive ...
    if points.ignored.size:  # ... less those this threshold ignores
        ignored = np.zeros((drawn.shape[0], points.ignored.size + 1), dtype=np.float32)
        np.cumsum(drawn[:, points.ignored], axis=1, out=ignored[:, 1:])
        seen = seen - ignored[:, np.searchsorted(points.ignored, points.tp, side="right")]
    recall = tp / positives
    precision = tp / (seen + EPS)  # tp + fp, as pycocotools adds them
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    # A true positive serves the recall thresholds it is the first to reach.
    served = thresholds_reached(recall, recall_thresholds)
    served[:, 1:] -= served[:, :-1].copy()
    return np.einsum("ij,ij->i", envelope, served)


def thresholds_reached(recall: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many of the (evenly spaced, 0..1) thresholds are <= each recall, compared exactly as
    np.searchsorted would, but without a binary search per element."""
    steps = len(thresholds) - 1
    bounds = np.concatenate([[-np.inf], thresholds, [np.inf]])
    reached = np.floor(recall * steps).astype(np.int64) + 1
    np.clip(reached, 0, steps + 1, out=reached)
    reached -= bounds[reached] > recall  # the float guess is off by at most one either way
    reached += bounds[reached + 1] <= recall
    return reached.astype(float)


def replicate_metrics(matched: MatchedDetections, weights: np.ndarray, chunk: int = 100,
                      threads: int | None = None) -> dict[str, np.ndarray]:
    """`matched.metric_names` (fractions, NaN where undefined) for each row of `weights` (R, images).

    Replicates go in chunks (small enough to stay in cache) over `threads` threads (default: the
    CPUs this process may use); numpy releases the GIL inside each array operation.
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    coco = over_chunks(lambda w: chunk_metrics(matched, w), weights, chunk, threads)
    voc = replicate_voc_metrics(matched.voc, weights) if matched.voc is not None else {}
    return {**voc, **coco}


def over_chunks(metrics: Callable[[np.ndarray], dict[str, np.ndarray]], weights: np.ndarray, chunk: int,
                threads: int | None) -> dict[str, np.ndarray]:
    """`metrics` of the rows of `weights`, chunk by chunk over threads, joined."""
    chunks = [weights[i:i + chunk] for i in range(0, len(weights), chunk)]
    threads = min(threads or usable_cpus(), len(chunks))
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(metrics, chunks))
    else:
        parts = [metrics(w) for w in chunks]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def replicate_voc_metrics(matches: VocMatches, weights: np.ndarray) -> dict[str, np.ndarray]:
    """VOC_METRICS for each row of `weights`, NaN where no class has positives."""
    rows = [voc_metrics(matches, w) for w in weights]
    return {name: np.array([np.nan if r[name] is None else r[name] for r in rows]) for name in VOC_METRICS}


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def chunk_metrics(matched: MatchedDetections, weights: np.ndarray) -> dict[str, np.ndarray]:
    replicates, ious = weights.shape[0], len(matched.iou_thresholds)
    shape = (replicates, matched.num_categories, len(matched.area_labels))
    sums = np.zeros(shape + (ious,))
    valid = np.zeros(shape, dtype=bool)
    for group in matched.groups:
        group_sums, group_valid = precision_sums(group, weights, matched.recall_thresholds)
        sums[:, group.category, group.area] = group_sums
        valid[:, group.category, group.area] = group_valid
    points = len(matched.recall_thresholds)
    out = {}
    for name, (area_label, iou) in METRICS.items():
        a = matched.area_labels.index(area_label)
        t = slice(None) if iou is None else np.flatnonzero(matched.iou_thresholds == iou)
        picked = sums[:, :, a][..., t]
        count = valid[:, :, a].sum(axis=1) * picked.shape[-1] * points
        total = np.where(valid[:, :, a, None], picked, 0.0).sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out


def point_metrics(matched: MatchedDetections) -> dict[str, float]:
    """The metrics on the evaluation set itself (every image once): pycocotools' numbers."""
    values = replicate_metrics(matched, np.ones((1, matched.num_images)))
    return {name: float(v[0]) for name, v in values.items()}


def bootstrap_weights(images: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """(replicates, images) draw counts of a bootstrap resample of the images."""
    return rng.multinomial(images, np.full(images, 1.0 / images), size=replicates).astype(float)
