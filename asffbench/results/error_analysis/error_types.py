"""Where the AP goes: TIDE's error types (Bolya et al., ECCV 2020) on COCOeval's own matching.

pycocotools' `COCOeval.evaluate()` decides, per (category, area range, image) and IoU threshold
t, which detections are true positives, which are ignored (crowd, or outside the size range) and
which ground-truth boxes are matched. This module only types what that matching left over, the
way TIDE does, for every area range and every analysed threshold t (the foreground threshold;
the background threshold is 0.1). A false positive is, tested in this order:

- `loc`: its best same-class IoU is in [0.1, t] (right class, box off);
- `cls`: its best IoU with another class's box is >= t (box right, class wrong);
- `dupe`: it overlaps (>= t) a same-class box that a higher-scoring detection already took;
- `bkg`: it overlaps (> 0.1) no box at all;
- `both`: anything else (class and box both wrong);

and a ground-truth box that no detection took and no `cls` / `loc` error aimed at is `miss`.
Crowd boxes take no part in the typing (COCOeval's matching has already ignored what hits them).

Each type's oracle fix, applied alone, gives its dAP (`error_bootstrap`): `cls` and `loc` errors
aimed at a box nobody took become true positives, only the highest-scoring one per box (in its
target's class for `cls`); every other typed false positive is suppressed; a missed box leaves
the ground truth. Two more: `FP` (every false positive suppressed) and `FN` (every unmatched box
removed). A fix whose target box is ignored in the area range (another size) suppresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from asffbench.results.intervals.bootstrap import evaluated

BACKGROUND_IOU = 0.1
# A detection's status at one threshold (TP / IGNORED: COCOeval's verdict; the rest: TIDE types).
TP, IGNORED, CLS, LOC, BOTH, DUPE, BKG = range(7)
STATUS_OF_ERROR = {"cls": CLS, "loc": LOC, "both": BOTH, "dupe": DUPE, "bkg": BKG}
ERROR_TYPES = ("cls", "loc", "both", "dupe", "bkg", "miss")  # TIDE's main errors
SPECIAL_TYPES = ("FP", "FN")  # perfect precision, perfect recall


@dataclass
class AreaErrors:
    """Every detection and ground-truth box of one area range, typed at each analysed threshold.

    Detections are ordered by category, then image (evaluation order), then score within the
    image, as COCOeval lists them; so are ground-truth boxes (by category, then image)."""

    det_image: np.ndarray  # (N,) row in image_ids
    det_category: np.ndarray  # (N,) index into the categories
    det_score: np.ndarray  # (N,)
    status: np.ndarray  # (T, N) int8, TP ... BKG
    fixer: np.ndarray  # (T, N) bool: a cls / loc error whose fix makes a true positive
    cls_target: np.ndarray  # (N,) category of the other-class box a cls error aims at, -1 none
    gt_image: np.ndarray  # (M,)
    gt_category: np.ndarray  # (M,)
    gt_counted: np.ndarray  # (M,) bool: not ignored in this area range
    gt_matched: np.ndarray  # (T, M) bool: taken by a detection
    gt_missed: np.ndarray  # (T, M) bool: counted, not taken, no cls / loc error aimed at it


@dataclass
class ErrorMatching:
    image_ids: list[Any]
    category_names: list[str]
    area_labels: list[str]
    iou_thresholds: np.ndarray  # the analysed thresholds
    recall_thresholds: np.ndarray
    areas: list[AreaErrors]

    @property
    def num_images(self) -> int:
        return len(self.image_ids)


@dataclass
class ImageEntries:
    """What COCOeval's evaluateImg returned for one image and area range, every category together."""

    det_ids: np.ndarray
    det_category: np.ndarray
    det_score: np.ndarray
    det_matched: np.ndarray  # (T, D) bool
    det_ignored: np.ndarray  # (T, D) bool
    gt_ids: np.ndarray
    gt_category: np.ndarray
    gt_ignored: np.ndarray  # (G,) bool
    gt_matched: np.ndarray  # (T, G) bool


def type_errors(evaluator: COCOeval, thresholds: Optional[Sequence[float]] = None,
                areas: Optional[Sequence[str]] = None) -> ErrorMatching:
    """Type the false positives and missed boxes of an evaluator whose `evaluate()` has run, at
    `thresholds` (default: all of its IoU thresholds), in the area ranges named (default: all)."""
    p = evaluator.params
    all_ious = np.asarray(p.iouThrs)
    picked = (np.arange(len(all_ious)) if thresholds is None
              else np.array([int(np.argmin(np.abs(all_ious - t))) for t in thresholds]))
    labels = list(p.areaRngLbl) if areas is None else [a for a in p.areaRngLbl if a in areas]
    names = [str(evaluator.cocoGt.cats[c].get("name", c)) for c in p.catIds]
    boxes: dict[int, tuple] = {}  # image -> (box ids, crowd flags, IoUs): the same boxes in every area range
    typed = [area_errors(evaluator, list(p.areaRngLbl).index(label), picked, boxes) for label in labels]
    return ErrorMatching(image_ids=list(p.imgIds), category_names=names, area_labels=labels,
                         iou_thresholds=all_ious[picked], recall_thresholds=np.asarray(p.recThrs), areas=typed)


def image_entries(evaluator: COCOeval, area: int, image: int, picked: np.ndarray) -> Optional[ImageEntries]:
    p = evaluator.params
    images, areas = len(p.imgIds), len(p.areaRng)
    parts = []
    for k in range(len(p.catIds)):
        entry = evaluator.evalImgs[(k * areas + area) * images + image]
        if entry is not None:
            parts.append((k, entry))
    if not parts:
        return None

    def cat(values: list) -> np.ndarray:
        return np.concatenate(values) if values else np.zeros(0)

    def rows(key: str, k_entry: tuple) -> np.ndarray:
        value = np.asarray(k_entry[1][key])
        return value[picked] if value.size else np.zeros((len(picked), 0))

    def matrix(key: str) -> np.ndarray:
        return np.concatenate([rows(key, part) for part in parts], axis=1)

    det_ids = [np.asarray(e["dtIds"], dtype=np.int64) for _, e in parts]
    gt_ids = [np.asarray(e["gtIds"], dtype=np.int64) for _, e in parts]
    return ImageEntries(
        det_ids=cat(det_ids).astype(np.int64),
        det_category=cat([np.full(len(d), k) for (k, _), d in zip(parts, det_ids)]).astype(np.int64),
        det_score=cat([np.asarray(e["dtScores"], dtype=float) for _, e in parts]),
        det_matched=matrix("dtMatches") != 0, det_ignored=matrix("dtIgnore").astype(bool),
        gt_ids=cat(gt_ids).astype(np.int64),
        gt_category=cat([np.full(len(g), k) for (k, _), g in zip(parts, gt_ids)]).astype(np.int64),
        gt_ignored=cat([np.asarray(e["gtIgnore"], dtype=bool) for _, e in parts]).astype(bool),
        gt_matched=matrix("gtMatches") != 0,
    )


# The dtype of each AreaErrors field; the (T, ...) ones hold a row per analysed threshold.
FIELD_TYPES = {"det_image": np.int64, "det_category": np.int64, "det_score": float, "status": np.int8,
               "fixer": bool, "cls_target": np.int64, "gt_image": np.int64, "gt_category": np.int64,
               "gt_counted": bool, "gt_matched": bool, "gt_missed": bool}
PER_THRESHOLD = ("status", "fixer", "gt_matched", "gt_missed")


def area_errors(evaluator: COCOeval, area: int, picked: np.ndarray, boxes: dict[int, tuple]) -> AreaErrors:
    """Type one area range image by image (`boxes`: the images' IoUs, shared by the ranges)."""
    thresholds = np.asarray(evaluator.params.iouThrs)[picked]
    columns: dict[str, list] = {key: [] for key in FIELD_TYPES}
    for i in range(len(evaluator.params.imgIds)):
        entries = image_entries(evaluator, area, i, picked)
        if entries is None:
            continue
        if i not in boxes:
            boxes[i] = (entries.gt_ids, *image_boxes(evaluator, entries))
        typed = type_image(entries, *in_entry_order(entries.gt_ids, *boxes[i]), thresholds)
        rows = {"det_image": np.full(len(entries.det_ids), i), "det_category": entries.det_category,
                "det_score": entries.det_score, "gt_image": np.full(len(entries.gt_ids), i),
                "gt_category": entries.gt_category, "gt_counted": ~entries.gt_ignored,
                "gt_matched": entries.gt_matched, **typed}
        for key, value in rows.items():
            columns[key].append(value)
    return ordered_rows(columns, len(picked))


def ordered_rows(columns: dict[str, list], thresholds: int) -> AreaErrors:
    """The images' rows joined and ordered by category, images in evaluation order within each."""
    joined = {}
    for key, values in columns.items():
        axis = 1 if key in PER_THRESHOLD else 0
        empty = np.zeros((thresholds, 0) if axis else 0)
        joined[key] = np.concatenate(values, axis=axis) if values else empty
    det_order = np.argsort(joined["det_category"], kind="stable")
    gt_order = np.argsort(joined["gt_category"], kind="stable")
    return AreaErrors(**{key: value[..., gt_order if key.startswith("gt_") else det_order].astype(FIELD_TYPES[key])
                         for key, value in joined.items()})


def box_ious(evaluator: COCOeval, entries: ImageEntries, typed_gt: np.ndarray) -> np.ndarray:
    """(D, G) IoU of the image's detections with its non-crowd boxes (zero columns elsewhere)."""
    ious = np.zeros((len(entries.det_ids), len(entries.gt_ids)))
    if len(entries.det_ids) and typed_gt.any():
        dets = [evaluator.cocoDt.anns[int(d)]["bbox"] for d in entries.det_ids]
        gts = [evaluator.cocoGt.anns[int(g)]["bbox"] for g in entries.gt_ids[typed_gt]]
        ious[:, typed_gt] = np.asarray(mask_utils.iou(dets, gts, [0] * len(gts))).reshape(len(dets), len(gts))
    return ious


def image_boxes(evaluator: COCOeval, entries: ImageEntries) -> tuple[np.ndarray, np.ndarray]:
    """(G,) crowd flags of an image's boxes and the (D, G) IoUs of its detections with them."""
    crowd = np.array([bool(evaluator.cocoGt.anns[int(g)].get("iscrowd", 0)) for g in entries.gt_ids], dtype=bool)
    return crowd, box_ious(evaluator, entries, ~crowd)


def in_entry_order(gt_ids: np.ndarray, cached_ids: np.ndarray, crowd: np.ndarray,
                   ious: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cached crowd flags and IoU columns in this area range's box order (COCOeval lists the
    boxes it ignores in a range last, so the order changes with the range)."""
    if np.array_equal(gt_ids, cached_ids):
        return crowd, ious
    column = {int(g): j for j, g in enumerate(cached_ids)}
    order = np.array([column[int(g)] for g in gt_ids], dtype=np.int64)
    return crowd[order], ious[:, order]


def type_image(entries: ImageEntries, crowd: np.ndarray, ious: np.ndarray,
               thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """TIDE's typing of one image's false positives and unmatched boxes at every threshold."""
    t_count, d_count = entries.det_matched.shape[0], len(entries.det_ids)
    typed_gt = ~crowd
    same_class = entries.det_category[:, None] == entries.gt_category[None, :]
    same = np.where(same_class, ious, 0.0)
    other = np.where(same_class, 0.0, ious)
    status = np.where(entries.det_matched & ~entries.det_ignored, TP, IGNORED).astype(np.int8)
    fp = ~entries.det_matched & ~entries.det_ignored
    cls_target = np.full(d_count, -1, dtype=np.int64)
    fixer = np.zeros((t_count, d_count), dtype=bool)
    aimed = np.zeros((t_count, len(entries.gt_ids)), dtype=bool)
    if d_count and len(entries.gt_ids):
        best_same, same_gt = same.max(axis=1), same.argmax(axis=1)
        best_other, other_gt = other.max(axis=1), other.argmax(axis=1)
        t = thresholds[:, None]
        loc = fp & (best_same >= BACKGROUND_IOU) & (best_same <= t)
        cls = fp & ~loc & (best_other >= t)
        taken_overlap = (same[None, :, :] * entries.gt_matched[:, None, :]).max(axis=2)  # (T, D)
        dupe = fp & ~loc & ~cls & (taken_overlap >= t)
        background = fp & ~loc & ~cls & ~dupe & (ious.max(axis=1) <= BACKGROUND_IOU)
        status[loc], status[cls], status[dupe], status[background] = LOC, CLS, DUPE, BKG
        status[fp & ~loc & ~cls & ~dupe & ~background] = BOTH
        target = np.where(loc, same_gt, other_gt)  # (T, D)
        free = ~entries.gt_matched[np.arange(t_count)[:, None], target]
        aims = (loc | cls) & free
        fixer = aims & ~entries.gt_ignored[target] & best_of_each_target(aims, target, entries.det_score)
        rows, cols = np.nonzero(aims)
        aimed[rows, target[rows, cols]] = True
        cls_target = np.where((cls.any(axis=0)), entries.gt_category[other_gt], -1)
    elif d_count:
        status[fp] = BKG
    missed = ~entries.gt_ignored & typed_gt & ~entries.gt_matched & ~aimed
    return {"status": status, "fixer": fixer, "cls_target": cls_target, "gt_missed": missed}


def best_of_each_target(aims: np.ndarray, target: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(T, D): the highest-scoring of the errors aimed at each box (the one TIDE's fix keeps)."""
    best = np.zeros_like(aims)
    order = np.argsort(-scores, kind="stable")
    for t in range(aims.shape[0]):
        candidates = order[aims[t, order]]
        _, first = np.unique(target[t, candidates], return_index=True)
        best[t, candidates[first]] = True
    return best


def match_errors(gt: COCO, detections: Sequence[dict], max_det: int = 100,
                 thresholds: Optional[Sequence[float]] = None, areas: Optional[Sequence[str]] = None) -> ErrorMatching:
    """COCOeval's matching of `detections` once, typed at `thresholds` (default .50:.05:.95) in
    the area ranges `areas` (default: all, small, medium, large)."""
    return type_errors(evaluated(gt, detections, max_det), thresholds, areas)
