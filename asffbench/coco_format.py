"""COCO-format conventions that evaluation relies on, torch-free (used by engine and results).

A ground-truth dict for COCOeval: a missing `iscrowd` is 0, a missing `area` is w * h, and boxes
with w or h <= 0 are left out, as `asffbench.data.coco` reads annotation files for evaluation.
The readers of an annotation file and a results file for scoring fail with one line naming it.

A split file without an `annotations` key holds image info only (COCO's
`image_info_test-dev2017.json`): a test split, whose AP only the evaluation server computes. An
`annotations` list that is empty is an annotated split without objects (every AP undefined).
The detections of a test split go to the server as `detections_[testset]_[alg]_results.json`
(`server_results_name`).
"""

from __future__ import annotations

import copy
import json
import re
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


def has_annotations(data: Any) -> bool:
    """Whether a split file holds annotations: False for image info only (a test split)."""
    return not isinstance(data, dict) or "annotations" in data


def server_part(text: str) -> str:
    """`text` as one part of the server's file name: letters, digits and hyphens only (the
    underscores separate the parts)."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-") or "x"


def testset_name(ann_file: Path) -> str:
    """The server's test-set name of a split file: `image_info_test-dev2017.json` -> `test-dev2017`."""
    stem = Path(ann_file).stem
    for prefix in ("image_info_", "instances_"):
        stem = stem.removeprefix(prefix)
    return server_part(stem)


def server_results_name(testset: str, alg: str) -> str:
    """The COCO evaluation server's name of a results file: detections_[testset]_[alg]_results.json."""
    return f"detections_{server_part(testset)}_{server_part(alg)}_results.json"


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: cannot read {what} ({err})") from None


def read_ground_truth(path: Path) -> dict:
    """An annotation file as `ground_truth_dict` gives it; image info without annotations (a test
    split) is refused: nothing can be scored against it."""
    data = read_json(path, "annotation file")
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise UserError(f"{path}: not a COCO annotation file (no 'images' list)")
    if not has_annotations(data):
        raise UserError(f"{path}: image info without annotations (a test split): no AP can be computed "
                        "against it; its detections go to the evaluation server")
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
