"""The AP of each oracle fix of `errors`, for any weighting of the images (bootstrap replicates).

Every fix keeps COCOeval's ranking of detections and only changes who counts: a suppressed
detection becomes an ignored one, a fixed `loc` error a true positive in place, a fixed `cls`
error a true positive in its target's class (it is listed there from the start, ignored by every
other scenario), and `miss` / `FN` lower the ground-truth count. So one group of detections per
(category, area range) serves every scenario and threshold, and the accumulation is
`bootstrap.interpolated_sum`, the same as `compare`'s: with every weight 1 the unfixed scenario
is pycocotools' AP.

Results are fractions keyed `kind|iou|area`: kind `AP` (the run's AP) or an error type (its dAP:
AP with that fix minus AP), iou `50` or `50:95` (the mean over the analysed thresholds), area
`all`, `small`, `medium`, `large`; per class `class|<name>|50` and `class|<name>|50:95` (AP).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from asffbench.results.intervals.bootstrap import IouPoints, interpolated_sum, over_chunks, thresholds_reached
from asffbench.results.error_analysis.error_types import (BKG, CLS, ERROR_TYPES, IGNORED, LOC, SPECIAL_TYPES, STATUS_OF_ERROR, TP,
                                      AreaErrors, ErrorMatching)

SCENARIOS = ("base",) + ERROR_TYPES + SPECIAL_TYPES
COUNTING = tuple(s for s in SCENARIOS if s != "FP")  # FP is read off the base's true positives
ALL_IOUS, IOU50 = "50:95", "50"


@dataclass
class ScenarioGroup:
    """One (category, area range): its detections in ranking order, and who counts in each
    (scenario, threshold)."""

    category: int
    area: int
    images: np.ndarray  # image row of each listed detection, in ranking order
    background: np.ndarray  # positions of the detections that are `bkg` errors at every threshold
    points: dict[tuple[str, int], IouPoints] = field(default_factory=dict)
    positives: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass
class ScenarioSet:
    matching: ErrorMatching
    groups: list[ScenarioGroup]

    @property
    def image_ids(self) -> list:
        return self.matching.image_ids

    @property
    def num_images(self) -> int:
        return self.matching.num_images

    def iou_labels(self) -> tuple[str, ...]:
        return (IOU50, ALL_IOUS) if len(self.matching.iou_thresholds) > 1 else (IOU50,)


def build_scenarios(matching: ErrorMatching) -> ScenarioSet:
    groups = []
    for a, area in enumerate(matching.areas):
        for k in range(len(matching.category_names)):
            group = scenario_group(area, k, a, len(matching.iou_thresholds))
            if group is not None:
                groups.append(group)
    return ScenarioSet(matching, groups)


def per_image(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    found, counts = np.unique(images, return_counts=True)
    return found, counts.astype(float)


def scenario_group(area: AreaErrors, k: int, a: int, thresholds: int) -> ScenarioGroup | None:
    counted_gt = area.gt_counted & (area.gt_category == k)
    if not counted_gt.any():
        return None  # no ground truth: COCO leaves the category out
    own = np.flatnonzero((area.det_category == k) & (area.status != IGNORED).any(axis=0))
    incoming = np.flatnonzero((area.cls_target == k) & ((area.status == CLS) & area.fixer).any(axis=0))
    rows = np.concatenate([own, incoming])
    order = np.argsort(-area.det_score[rows], kind="mergesort")  # pycocotools' ranking
    rows = rows[order]
    is_own = np.concatenate([np.ones(len(own), bool), np.zeros(len(incoming), bool)])[order]
    status, fixer = area.status[:, rows], area.fixer[:, rows]
    background = np.flatnonzero(is_own & (status == BKG).all(axis=0))
    group = ScenarioGroup(category=k, area=a, images=area.det_image[rows], background=background)
    for t in range(thresholds):
        st, fx = status[t], fixer[t]
        tp, excluded = is_own & (st == TP), ~is_own | (st == IGNORED)
        moved_in = ~is_own & (st == CLS) & fx
        for scenario in COUNTING:
            s_tp, s_excluded = tp, excluded
            if scenario == "cls":
                s_tp, s_excluded = tp | moved_in, (excluded | (is_own & (st == CLS))) & ~moved_in
            elif scenario == "loc":
                s_tp, s_excluded = tp | (is_own & (st == LOC) & fx), excluded | (is_own & (st == LOC) & ~fx)
            elif scenario in STATUS_OF_ERROR:
                s_excluded = excluded | (is_own & (st == STATUS_OF_ERROR[scenario]))
            unchanged = scenario != "base" and np.array_equal(s_tp, tp) and np.array_equal(s_excluded, excluded)
            group.points[scenario, t] = (group.points["base", t] if unchanged else  # shared: summed once
                                         IouPoints(tp=np.flatnonzero(s_tp), ignored=np.flatnonzero(s_excluded)))
        gt_rows = {"miss": counted_gt & ~area.gt_missed[t], "FN": counted_gt & area.gt_matched[t]}
        group.positives["base", t] = per_image(area.gt_image[counted_gt])
        for scenario in COUNTING[1:]:
            rows = gt_rows.get(scenario, counted_gt)
            group.positives[scenario, t] = (group.positives["base", t] if np.array_equal(rows, counted_gt)
                                            else per_image(area.gt_image[rows]))
    return group


def group_sums(group: ScenarioGroup, weights: np.ndarray, recall_thresholds: np.ndarray,
               thresholds: int) -> tuple[np.ndarray, np.ndarray]:
    """(S, R, T) sums of interpolated precision and (S, R, T) validity for every scenario."""
    replicates = weights.shape[0]
    sums = np.zeros((len(SCENARIOS), replicates, thresholds))
    valid = np.zeros_like(sums, dtype=bool)
    drawn = weights[:, group.images].astype(np.float32)
    seen_all = np.cumsum(drawn, axis=1)
    seen_fg = None  # the running count without the background errors, for the `bkg` fix
    if group.background.size and "bkg" in SCENARIOS:
        kept = drawn.copy()
        kept[:, group.background] = 0.0
        seen_fg = np.cumsum(kept, axis=1)
    for t in range(thresholds):
        done: dict[tuple, int] = {}  # a scenario that changes nothing here shares the base's sums
        for s, scenario in enumerate(SCENARIOS):
            name = "base" if scenario == "FP" else scenario
            points, (gt_images, gt_counts) = group.points[name, t], group.positives[name, t]
            key = (id(points), id(gt_images), scenario == "FP")
            if key in done:
                sums[s, :, t], valid[s, :, t] = sums[done[key], :, t], valid[done[key], :, t]
                continue
            done[key] = s
            positives = weights[:, gt_images] @ gt_counts
            valid[s, :, t] = positives > 0
            if s and (valid[0, :, t] & ~valid[s, :, t]).any():
                # Every box of the class fixed away: as in TIDE, the class still counts (AP 0)
                # while it has detections; COCO would drop it and flatter the fix.
                counted = drawn.sum(axis=1) - drawn[:, points.ignored].sum(axis=1)
                valid[s, :, t] = valid[0, :, t] & ((positives > 0) | (counted > 0))
            safe = np.where(positives > 0, positives, 1.0)[:, None]
            if not points.tp.size:
                continue
            if scenario == "FP":  # no false positive left: precision 1 up to the final recall
                found = drawn[:, points.tp].sum(axis=1, keepdims=True) / safe
                sums[s, :, t] = thresholds_reached(found, recall_thresholds)[:, 0]
            elif scenario == "bkg" and seen_fg is not None:
                rest = IouPoints(points.tp, np.setdiff1d(points.ignored, group.background, assume_unique=True))
                sums[s, :, t] = interpolated_sum(rest, drawn, seen_fg, safe, recall_thresholds)
            else:
                sums[s, :, t] = interpolated_sum(points, drawn, seen_all, safe, recall_thresholds)
    return sums, valid


def chunk_metrics(scenarios: ScenarioSet, weights: np.ndarray) -> dict[str, np.ndarray]:
    m = scenarios.matching
    thresholds = len(m.iou_thresholds)
    shape = (len(SCENARIOS), weights.shape[0], len(m.category_names), len(m.area_labels), thresholds)
    sums, valid = np.zeros(shape), np.zeros(shape, dtype=bool)
    for group in scenarios.groups:
        s, v = group_sums(group, weights, m.recall_thresholds, thresholds)
        sums[:, :, group.category, group.area], valid[:, :, group.category, group.area] = s, v
    points = len(m.recall_thresholds)
    ious = {IOU50: np.flatnonzero(np.isclose(m.iou_thresholds, 0.5)), ALL_IOUS: np.arange(thresholds)}
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for label in scenarios.iou_labels():
            t = ious[label]
            for a, area in enumerate(m.area_labels):
                picked, ok = sums[:, :, :, a][..., t], valid[:, :, :, a][..., t]
                count = ok.sum(axis=(2, 3)) * points
                ap = np.where(count > 0, np.where(ok, picked, 0.0).sum(axis=(2, 3)) / np.maximum(count, 1), np.nan)
                out[f"AP|{label}|{area}"] = ap[0]
                for s, scenario in enumerate(SCENARIOS[1:], start=1):
                    out[f"{scenario}|{label}|{area}"] = ap[s] - ap[0]
            if "all" in m.area_labels:
                a = m.area_labels.index("all")
                base, ok = sums[0, :, :, a][..., t], valid[0, :, :, a][..., t]
                per_class = np.where(ok.any(axis=2), np.where(ok, base, 0.0).sum(axis=2)
                                     / np.maximum(ok.sum(axis=2), 1) / points, np.nan)
                for k, name in enumerate(m.category_names):
                    out[f"class|{name}|{label}"] = per_class[:, k]
    return out


def scenario_metrics(scenarios: ScenarioSet, weights: np.ndarray, chunk: int = 50,
                     threads: int | None = None) -> dict[str, np.ndarray]:
    """Every `kind|iou|area` and per-class metric for each row of `weights` (R, images)."""
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    return over_chunks(lambda w: chunk_metrics(scenarios, w), weights, chunk, threads)


def point_scenario_metrics(scenarios: ScenarioSet) -> dict[str, float]:
    values = scenario_metrics(scenarios, np.ones((1, scenarios.num_images)))
    return {name: float(v[0]) for name, v in values.items()}
