"""Small COCO ground truths and detection sets for the bootstrap tests (deterministic)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def ground_truth(images: int = 40, classes: int = 4, seed: int = 0) -> dict:
    """Boxes of every COCO size, a few crowd boxes, some images without any, one empty class."""
    rng = np.random.default_rng(seed)
    annotations = []
    for image in range(1, images + 1):
        for _ in range(rng.integers(0, 6)):
            w, h = np.exp(rng.uniform(np.log(5), np.log(300), 2))
            x, y = rng.uniform(0, 300, 2)
            annotations.append({"id": len(annotations) + 1, "image_id": image,
                                "category_id": int(rng.integers(1, classes + 1)),
                                "bbox": [float(x), float(y), float(w), float(h)], "area": float(w * h),
                                "iscrowd": int(rng.random() < 0.05)})
    return {"images": [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 640}
                       for i in range(1, images + 1)],
            "categories": [{"id": c, "name": f"c{c}"} for c in range(1, classes + 2)],  # last: no boxes
            "annotations": annotations}


def detections(gt: dict, seed: int = 0, quality: float = 0.1, decimals: int | None = 2) -> list[dict]:
    """Jittered copies of the boxes (some mislabelled) and random boxes; rounded scores give ties."""
    rng = np.random.default_rng(seed)
    classes = len(gt["categories"])
    out = []
    for ann in gt["annotations"]:
        for _ in range(rng.integers(0, 3)):
            x, y, w, h = ann["bbox"]
            jitter = rng.normal(0, quality, 4) * [w, h, w, h]
            label = ann["category_id"] if rng.random() < 0.85 else int(rng.integers(1, classes + 1))
            out.append({"image_id": ann["image_id"], "category_id": label,
                        "bbox": [x + jitter[0], y + jitter[1], max(1.0, w + jitter[2]), max(1.0, h + jitter[3])],
                        "score": float(rng.uniform(0.3, 1.0))})
    for image in gt["images"]:
        for _ in range(rng.integers(0, 15)):
            w, h = np.exp(rng.uniform(np.log(5), np.log(300), 2))
            out.append({"image_id": image["id"], "category_id": int(rng.integers(1, classes + 1)),
                        "bbox": [*map(float, rng.uniform(0, 300, 2)), float(w), float(h)],
                        "score": float(rng.uniform(0.0, 0.6))})
    for det in out:
        det["bbox"] = [float(v) for v in det["bbox"]]
        if decimals is not None:
            det["score"] = round(det["score"], decimals)
    return out


def write_run(run_dir: Path, gt_path: Path, dets: list[dict], record: dict | None = None) -> Path:
    """A run directory as `evaluate` leaves it: detections.json and metrics.json naming the GT."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "detections.json").write_text(json.dumps(dets))
    (run_dir / "metrics.json").write_text(json.dumps({"ground_truth": str(gt_path)}))
    if record is not None:
        (run_dir / "record.json").write_text(json.dumps(record))
    return run_dir
