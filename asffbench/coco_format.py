"""COCO-format conventions that evaluation relies on, torch-free (used by engine and results).

A ground-truth dict for COCOeval: a missing `iscrowd` is 0, a missing `area` is w * h, and boxes
with w or h <= 0 are left out, as `asffbench.data.coco` reads annotation files for evaluation.
The readers of an annotation file and a results file for scoring fail with one line naming it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from asffbench.errors import UserError


def ground_truth_dict(dataset: dict) -> dict:
    """A copy of a COCO dataset dict that every evaluation backend accepts."""
    gt = copy.copy(dataset)
    annotations = []
    for ann in dataset.get("annotations", []):
        bbox = ann.get("bbox") or [0, 0, 0, 0]
        if bbox[2] <= 0 or bbox[3] <= 0:
            continue
        if "iscrowd" not in ann or "area" not in ann:
            ann = dict(ann)
            ann.setdefault("iscrowd", 0)
            ann.setdefault("area", float(bbox[2] * bbox[3]))
        annotations.append(ann)
    gt["annotations"] = annotations
    gt.setdefault("images", [])
    gt.setdefault("categories", [])
    return gt


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: cannot read {what} ({err})") from None


def read_ground_truth(path: Path) -> dict:
    """An annotation file as `ground_truth_dict` gives it."""
    data = read_json(path, "annotation file")
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise UserError(f"{path}: not a COCO annotation file (no 'images' list)")
    return ground_truth_dict(data)


def read_results(path: Path, gt: dict, gt_path: Path) -> list[dict]:
    """A COCO results file whose detections all name images of `gt` (read from `gt_path`)."""
    detections = read_json(path, "detections file")
    if not isinstance(detections, list):
        raise UserError(f"{path}: not a COCO results file (a JSON list of detections)")
    keys = {"image_id", "category_id", "bbox", "score"}
    bad = next((i for i, d in enumerate(detections)
                if not (isinstance(d, dict) and keys <= d.keys() and isinstance(d["bbox"], list) and len(d["bbox"]) == 4)),
               None)
    if bad is not None:
        raise UserError(f"{path}: detection {bad} is not an object with {', '.join(sorted(keys))} "
                        "(bbox: [x, y, w, h])")
    known = {image["id"] for image in gt["images"]}
    unknown = {d.get("image_id") for d in detections if isinstance(d, dict)} - known
    if unknown:
        raise UserError(f"{path}: {len(unknown)} image ids are not in {gt_path}")
    return detections
