"""COCO bbox metrics from a ground-truth dataset and a list of COCO results.

Two interchangeable backends: pycocotools (the reference) and faster-coco-eval (same numbers,
several times faster; optional, imported only when chosen).
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any, Optional, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from asffbench.coco_format import ground_truth_dict
from asffbench.config.schema import choice_str
from asffbench.data.coco import make_coco
from asffbench.errors import UserError

# The order of COCOeval.stats for bbox.
METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
BACKENDS = ("pycocotools", "faster_coco_eval")


def coco_backend(backend: str) -> tuple[type, type]:
    """The (COCO, COCOeval) classes of a backend; UserError when unknown or not installed."""
    backend = choice_str(backend)
    if backend == "pycocotools":
        return COCO, COCOeval
    if backend == "faster_coco_eval":
        try:  # an optional extra (`fast`), imported only when chosen
            from faster_coco_eval import COCO as FasterCOCO, COCOeval_faster
        except ImportError:
            raise UserError(
                "eval.backend=faster_coco_eval: the package is not installed "
                "(pip install faster-coco-eval, or use eval.backend=pycocotools)"
            ) from None
        return FasterCOCO, COCOeval_faster
    raise UserError(f"eval.backend={backend}: unknown backend; choose from {', '.join(BACKENDS)}")


def coco_evaluate(
    gt_dataset: dict,
    detections: Sequence[dict],
    backend: str = "pycocotools",
    image_ids: Optional[Sequence[int]] = None,
) -> dict:
    """COCO bbox metrics of `detections` (COCO results: image_id, category_id, bbox xywh, score).

    Returns METRIC_NAMES as fractions in 0..1 (None where COCO leaves a metric undefined, i.e.
    no ground truth in that size range), `per_class` (AP by category name, None for a class
    without ground truth) and `summary` (COCOeval's printed table). No detections at all gives
    AP 0 wherever ground truth exists.
    """
    coco_cls, eval_cls = coco_backend(backend)
    gt = make_coco(ground_truth_dict(gt_dataset), coco_cls)
    if detections:
        with contextlib.redirect_stdout(io.StringIO()):
            dt = gt.loadRes(copy.deepcopy(list(detections)))
    else:
        # loadRes cannot take an empty list; an empty results set evaluates to zero recall.
        empty = {"images": gt.dataset["images"], "categories": gt.dataset["categories"], "annotations": []}
        dt = make_coco(empty, coco_cls)

    evaluator = eval_cls(gt, dt, "bbox")
    if image_ids is not None:
        evaluator.params.imgIds = sorted(int(i) for i in image_ids)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    summary = printed.getvalue() or summary_table(evaluator.stats)

    metrics: dict[str, Any] = {
        name: defined(value) for name, value in zip(METRIC_NAMES, evaluator.stats[: len(METRIC_NAMES)])
    }
    metrics["per_class"] = per_class_ap(evaluator, gt)
    metrics["summary"] = summary
    return metrics


def per_class_ap(evaluator: Any, gt: Any) -> dict[str, Optional[float]]:
    """AP@[.5:.95] of each category (all areas, 100 detections), keyed by category name."""
    precision = np.asarray(evaluator.eval["precision"])  # (iou, recall, class, area, max_dets)
    names = {cat["id"]: cat.get("name", str(cat["id"])) for cat in gt.dataset["categories"]}
    result: dict[str, Optional[float]] = {}
    for k, cat_id in enumerate(evaluator.params.catIds):
        values = precision[:, :, k, 0, -1]
        values = values[values > -1]
        result[names.get(cat_id, str(cat_id))] = float(values.mean()) if values.size else None
    return result


def defined(value: float) -> Optional[float]:
    """COCOeval marks undefined metrics with -1; report them as None instead of a fake number."""
    value = float(value)
    return None if value < 0 else value


def summary_table(stats: Sequence[float]) -> str:
    return "\n".join(f"{name:>6}: {float(v):.4f}" for name, v in zip(METRIC_NAMES, stats))
