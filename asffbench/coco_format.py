"""COCO-format conventions that evaluation relies on, torch-free (used by engine and results).

A ground-truth dict for COCOeval: a missing `iscrowd` is 0, a missing `area` is w * h, and boxes
with w or h <= 0 are left out, as `asffbench.data.coco` reads annotation files for evaluation.
"""

from __future__ import annotations

import copy


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
