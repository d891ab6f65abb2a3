"""A reproducible N-image subset of a COCO annotation file, for users' own smoke runs.

Writes `<out>/<annotation file name>` (the chosen images, their annotations, all categories)
and `<out>/images/<file_name>` (copies or symlinks), atomically: built in a temp directory next
to `out`, then renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from asffbench.atomic import write_dir_atomic
from asffbench.data.coco import read_json, validated_coco_dict
from asffbench.errors import UserError


def choose_images(images: list[dict], n: int, seed: int) -> list[dict]:
    """`n` images drawn without replacement (same seed -> same images), in file order."""
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(images), size=n, replace=False).tolist())
    return [images[k] for k in picked]


def make_subset(ann: Path, image_dir: Path, out: Path, n: int, seed: int = 0, link: bool = False) -> Path:
    """Write the subset; returns the new annotation file."""
    ann, image_dir, out = Path(ann).expanduser(), Path(image_dir).expanduser(), Path(out).expanduser()
    if n < 1:
        raise UserError(f"--n {n}: must be at least 1")
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: image directory not found (--images)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out}: already exists and is not an empty directory (--out)")
    raw = read_json(ann)
    data = validated_coco_dict(raw, ann)
    if n > len(data["images"]):
        raise UserError(f"--n {n}: {ann} has only {len(data['images'])} images")
    chosen = choose_images(data["images"], n, seed)
    ids = {image["id"] for image in chosen}
    for image in chosen:
        if not (image_dir / image["file_name"]).is_file():
            raise UserError(
                f"{image_dir / image['file_name']}: image file not found (image id {image['id']} in {ann})"
            )
    subset = {
        key: value for key, value in raw.items() if key not in ("images", "annotations", "categories")
    }
    subset["images"] = chosen
    subset["annotations"] = [a for a in raw.get("annotations", []) if a.get("image_id") in ids]
    subset["categories"] = raw["categories"]

    def fill(tmp: Path) -> None:
        for image in chosen:
            src = (image_dir / image["file_name"]).resolve()
            dst = tmp / "images" / image["file_name"]
            dst.parent.mkdir(parents=True, exist_ok=True)
            if link:
                os.symlink(src, dst)
            else:
                shutil.copy2(src, dst)
        (tmp / ann.name).write_text(json.dumps(subset) + "\n")

    write_dir_atomic(out, fill)
    return out / ann.name
