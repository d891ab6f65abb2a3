"""COCOeval's bbox matching (`evaluate()`), vectorised with numpy: the same table, image by image.

pycocotools matches each (image, category) in a Python loop: detections in decreasing score order
(stable), the best `max_det` of them, each taking the not yet taken ground-truth box of highest
IoU at or above the threshold, regular boxes before ignored ones (crowd, or outside the area
range), ties to the later box; crowd boxes can be taken again. Here the same rules run over every
(image, category, area range, IoU threshold) at once, one detection rank at a time: a few hundred
numpy calls instead of millions of Python steps. The outcome is a `CocoMatches` table
(`asffbench.engine.match_table`); `matches_from_evaluator` turns a pycocotools evaluator into the
same table, the reference the tests hold this matcher to.

Numpy only (no torch): the results layer uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from pycocotools.cocoeval import Params

from asffbench.engine.match_table import CocoMatches


@dataclass
class Boxes:
    """Annotations or detections as arrays, in their input order."""

    image: np.ndarray  # row in the sorted image ids
    category: np.ndarray  # index in the sorted category ids
    xywh: np.ndarray  # (N, 4) float64
    area: np.ndarray  # the `area` field (ground truth) or w * h (detections, as loadRes sets it)
    crowd: np.ndarray  # bool (always False for detections)
    ids: np.ndarray  # annotation ids (ground truth); a match to id 0 counts as none, as in pycocotools
    score: np.ndarray  # detections only


def coco_params(max_det: int) -> Params:
    params = Params(iouType="bbox")
    params.maxDets = [1, 10, max_det]
    return params


def ground_truth_boxes(gt_dataset: dict, image_row: dict, category_index: dict) -> Boxes:
    anns = [a for a in gt_dataset.get("annotations", [])
            if a["image_id"] in image_row and a["category_id"] in category_index]
    n = len(anns)
    return Boxes(image=np.fromiter((image_row[a["image_id"]] for a in anns), np.int64, n),
                 category=np.fromiter((category_index[a["category_id"]] for a in anns), np.int64, n),
                 xywh=np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(n, 4),
                 area=np.fromiter((a["area"] for a in anns), np.float64, n),
                 crowd=np.fromiter((bool(a.get("iscrowd", 0)) for a in anns), bool, n),
                 ids=np.fromiter((a["id"] for a in anns), np.int64, n), score=np.zeros(n))


def detection_boxes(detections: Sequence[dict], image_row: dict, category_index: dict) -> Boxes:
    """Detections of the evaluated images and known categories (COCOeval drops the others)."""
    dets = [d for d in detections if d["image_id"] in image_row and d["category_id"] in category_index]
    n = len(dets)
    xywh = np.array([d["bbox"] for d in dets], dtype=np.float64).reshape(n, 4)
    return Boxes(image=np.fromiter((image_row[d["image_id"]] for d in dets), np.int64, n),
                 category=np.fromiter((category_index[d["category_id"]] for d in dets), np.int64, n),
                 xywh=xywh, area=xywh[:, 2] * xywh[:, 3], crowd=np.zeros(n, bool),
                 ids=np.zeros(n, np.int64), score=np.fromiter((d["score"] for d in dets), np.float64, n))


def match_coco(gt_dataset: dict, detections: Sequence[dict], max_det: int = 100,
               image_ids: Sequence[Any] | None = None) -> CocoMatches:
    """The match table of `detections` (COCO results) on `gt_dataset` (a dict as
    `coco_format.ground_truth_dict` gives), over `image_ids` (default: every image), as
    pycocotools' bbox `evaluate()` with maxDets [1, 10, max_det] would match them."""
    params = coco_params(max_det)
    max_det = max(params.maxDets)  # what pycocotools keeps: it sorts maxDets and takes the last
    ids = sorted(image["id"] for image in gt_dataset["images"]) if image_ids is None else sorted(image_ids)
    categories = sorted(c["id"] for c in gt_dataset["categories"])
    image_row = {image_id: i for i, image_id in enumerate(ids)}
    category_index = {c: k for k, c in enumerate(categories)}
    gt = ground_truth_boxes(gt_dataset, image_row, category_index)
    dt = detection_boxes(detections, image_row, category_index)
    areas = np.asarray(params.areaRng, dtype=np.float64)
    # pycocotools' per-area ignore flags: crowd, or the `area` field outside the range.
    gt_ignore = gt.crowd[:, None] | (gt.area[:, None] < areas[:, 0]) | (gt.area[:, None] > areas[:, 1])
    dt_outside = (dt.area[:, None] < areas[:, 0]) | (dt.area[:, None] > areas[:, 1])
    pairs = len(categories)
    # Detections per (image, category) by decreasing score, ties in input order; the best max_det.
    order = np.lexsort((np.arange(len(dt.score)), -dt.score, dt.category, dt.image))
    pair_of = (dt.image * pairs + dt.category)[order]
    starts = np.flatnonzero(np.r_[True, pair_of[1:] != pair_of[:-1]]) if order.size else np.zeros(0, np.int64)
    rank = np.arange(order.size) - np.repeat(starts, np.diff(np.r_[starts, order.size]))
    kept = order[rank < max_det]
    rank = rank[rank < max_det]
    thresholds = np.minimum(np.asarray(params.iouThrs), 1 - 1e-10)  # as evaluateImg compares
    rows, taken = greedy_match(dt, kept, rank, gt, thresholds, pairs, gt_ignore)
    # Detections sharing no pair with ground truth match nothing: ignored where outside the range.
    outside = dt_outside[kept][:, :, None]
    matched = np.zeros((kept.size, len(areas), thresholds.size), dtype=bool)
    ignored = np.repeat(outside, thresholds.size, axis=2)
    found = taken >= 0
    box = np.maximum(taken, 0)
    matched_id = np.where(found, gt.ids[box], 0)
    matched[rows] = matched_id != 0
    ignored[rows] = (found & gt_ignore[box, np.arange(len(areas))[None, :, None]]) | ((matched_id == 0) & outside[rows])
    positives = np.zeros((len(ids), len(categories), len(areas)), dtype=np.int64)
    counted = ~gt_ignore
    for a in range(len(areas)):
        np.add.at(positives[:, :, a], (gt.image[counted[:, a]], gt.category[counted[:, a]]), 1)
    return CocoMatches.in_accumulate_order(
        image_ids=ids, category_ids=categories, area_labels=list(params.areaRngLbl),
        iou_thresholds=np.asarray(params.iouThrs), recall_thresholds=np.asarray(params.recThrs),
        max_det=max_det, image=dt.image[kept], category=dt.category[kept], rank=rank,
        score=dt.score[kept], matched=matched, ignored=ignored, positives=positives)


def box_iou(dt: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of paired xywh rows, in the operations and order of pycocotools' `bbIou` (crowd
    boxes: intersection over the detection's area), so that equal inputs give equal bits."""
    width = np.minimum(dt[:, 2] + dt[:, 0], gt[:, 2] + gt[:, 0]) - np.maximum(dt[:, 0], gt[:, 0])
    height = np.minimum(dt[:, 3] + dt[:, 1], gt[:, 3] + gt[:, 1]) - np.maximum(dt[:, 1], gt[:, 1])
    inter = width * height
    dt_area, gt_area = dt[:, 2] * dt[:, 3], gt[:, 2] * gt[:, 3]
    union = np.where(crowd, dt_area, dt_area + gt_area - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.where((width > 0) & (height > 0), iou, 0.0)


def greedy_match(dt: Boxes, kept: np.ndarray, rank: np.ndarray, gt: Boxes, thresholds: np.ndarray,
                 pairs: int, gt_ignore: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The kept detections whose (image, category) has ground truth (positions in `kept`), and
    for each the row in `gt` it takes at each (area range, IoU threshold), -1 for none."""
    gt_pair = gt.image * pairs + gt.category
    gt_order = np.argsort(gt_pair, kind="stable")  # each pair's boxes in input order
    gt_sorted = gt_pair[gt_order]
    det_pair = dt.image[kept] * pairs + dt.category[kept]
    first = np.searchsorted(gt_sorted, det_pair, side="left")
    count = np.searchsorted(gt_sorted, det_pair, side="right") - first
    with_gt = np.flatnonzero(count > 0)
    taken = np.full((with_gt.size, gt_ignore.shape[1], thresholds.size), -1, dtype=np.int64)
    # Pairs with the same number of boxes are matched together, without padding.
    for boxes in np.unique(count[with_gt]):
        local = np.flatnonzero(count[with_gt] == boxes)
        rows = with_gt[local]  # kept detections, pairs in a row, rank 0 first
        members = gt_order[first[rows][:, None] + np.arange(boxes)]  # (rows, boxes) gt rows
        iou = box_iou(np.repeat(dt.xywh[kept[rows]], boxes, axis=0), gt.xywh[members.ravel()],
                      gt.crowd[members.ravel()]).reshape(len(rows), boxes)
        taken[local] = match_same_size(iou, rank[rows], members, gt.crowd, gt_ignore, thresholds)
    return with_gt, taken


def match_same_size(iou: np.ndarray, rank: np.ndarray, members: np.ndarray, crowd: np.ndarray,
                    gt_ignore: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Greedy matching of detections `iou` (rows: pairs' detections in rank order) to their
    pair's `members` boxes, one rank at a time over all pairs; (rows, areas, T) gt rows or -1."""
    starts = np.flatnonzero(rank == 0)
    length = np.diff(np.r_[starts, rank.size])
    by_length = np.argsort(-length, kind="stable")  # the pairs still matching form a prefix
    starts, length = starts[by_length], length[by_length]
    areas, boxes = gt_ignore.shape[1], members.shape[1]
    ignore = gt_ignore[members[starts]].transpose(0, 2, 1)[:, :, None, :]  # (P, A, 1, G)
    reusable = crowd[members[starts]][:, None, None, :]  # crowd boxes can be taken again
    used = np.zeros((len(starts), areas, thresholds.size, boxes), dtype=bool)
    out = np.full((rank.size, areas, thresholds.size), -1, dtype=np.int64)
    for r in range(int(length[0]) if length.size else 0):
        live = int(np.count_nonzero(length > r))
        row = starts[:live] + r
        values = np.broadcast_to(iou[row][:, None, None, :], (live, areas, thresholds.size, boxes))
        free = ~used[:live] | reusable[:live]
        candidate = free & (values >= thresholds[None, None, :, None])
        regular = candidate & ~ignore[:live]
        # Regular boxes first; only when none qualifies, the ignored ones.
        pool = np.where(regular.any(axis=3, keepdims=True), regular, candidate & ignore[:live])
        scored = np.where(pool, values, -1.0)[..., ::-1]  # reversed: argmax then finds the last tie
        best = boxes - 1 - np.argmax(scored, axis=3)
        found = pool.any(axis=3)
        pick = np.where(found, best, -1)
        np.put_along_axis(used[:live], np.maximum(pick, 0)[..., None],
                          np.take_along_axis(used[:live], np.maximum(pick, 0)[..., None], axis=3) | found[..., None],
                          axis=3)
        out[row] = np.where(found, np.take_along_axis(np.broadcast_to(members[row][:, None, None, :], values.shape),
                                                      np.maximum(pick, 0)[..., None], axis=3)[..., 0], -1)
    return out


def matches_from_evaluator(evaluator: Any) -> CocoMatches:
    """The table of a pycocotools `COCOeval` whose `evaluate()` has run (its largest maxDets):
    the reference `match_coco` is held to."""
    p = evaluator.params
    images, areas, ious = len(p.imgIds), len(p.areaRng), len(p.iouThrs)
    columns: dict[str, list] = {name: [] for name in ("image", "category", "rank", "score", "matched", "ignored")}
    positives = np.zeros((images, len(p.catIds), areas), dtype=np.int64)
    for k in range(len(p.catIds)):
        for i in range(images):
            entries = [evaluator.evalImgs[(k * areas + a) * images + i] for a in range(areas)]
            if entries[0] is None:
                continue  # neither boxes nor detections (then no area range has any)
            for a, entry in enumerate(entries):
                positives[i, k, a] = np.count_nonzero(np.asarray(entry["gtIgnore"]) == 0)
            n = len(entries[0]["dtIds"])
            columns["image"].append(np.full(n, i))
            columns["category"].append(np.full(n, k))
            columns["rank"].append(np.arange(n))
            columns["score"].append(np.asarray(entries[0]["dtScores"], dtype=np.float64))
            columns["matched"].append(np.stack([np.asarray(e["dtMatches"]).reshape(ious, n) != 0 for e in entries], 1).transpose(2, 1, 0))
            columns["ignored"].append(np.stack([np.asarray(e["dtIgnore"]).reshape(ious, n) != 0 for e in entries], 1).transpose(2, 1, 0))
    empty = {"image": np.zeros(0, np.int64), "category": np.zeros(0, np.int64), "rank": np.zeros(0, np.int64),
             "score": np.zeros(0), "matched": np.zeros((0, areas, ious), bool), "ignored": np.zeros((0, areas, ious), bool)}
    stacked = {name: np.concatenate(parts) if parts else empty[name] for name, parts in columns.items()}
    return CocoMatches.in_accumulate_order(
        image_ids=list(p.imgIds), category_ids=list(p.catIds), area_labels=list(p.areaRngLbl),
        iou_thresholds=np.asarray(p.iouThrs), recall_thresholds=np.asarray(p.recThrs), max_det=p.maxDets[-1],
        positives=positives, **stacked)
