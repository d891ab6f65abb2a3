"""A reproducible N-image subset of a COCO annotation file or of VOC sets, for users' own smoke runs.

COCO: writes `<out>/<annotation file name>` (the chosen images, their annotations, all
categories) and `<out>/images/<file_name>`. VOC: writes a VOCdevkit under `<out>` with the
chosen images of each set (`VOC2007/Annotations/`, `JPEGImages/`, `ImageSets/Main/<split>.txt`),
so `data=voc data.root=<out>` reads it. Images are copies or symlinks; everything is written
atomically: built in a temp directory next to `out`, then renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from asffbench.atomic import write_dir_atomic
from asffbench.data.coco import read_json, validated_coco_dict
from asffbench.data.synth import check_empty_out
from asffbench.data.voc import VocSet, image_file, parse_xml, read_ids
from asffbench.data.voc_write import write_split_file
from asffbench.errors import UserError


def choose_images(images: list, n: int, seed: int) -> list:
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
    check_empty_out(out)
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
            link_or_copy(image_dir / image["file_name"], tmp / "images" / image["file_name"], link)
        (tmp / ann.name).write_text(json.dumps(subset) + "\n")

    write_dir_atomic(out, fill)
    return out / ann.name


def link_or_copy(src: Path, dst: Path, link: bool) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if link:
        os.symlink(src.resolve(), dst)
    else:
        shutil.copy2(src, dst)


def make_voc_subset(root: Path, sets: list[VocSet], out: Path, n: int, seed: int = 0, link: bool = False) -> Path:
    """Write `n` images drawn from the listed sets (same seed -> same images); returns `out`."""
    root, out = Path(root).expanduser(), Path(out).expanduser()
    if n < 1:
        raise UserError(f"--n {n}: must be at least 1")
    if not root.is_dir():
        raise UserError(f"{root}: directory not found (--voc)")
    check_empty_out(out)
    listed = [(s, voc_id) for s in sets for voc_id in read_ids(s.split_file(root))]
    if n > len(listed):
        raise UserError(f"--n {n}: the chosen sets of {root} list only {len(listed)} images")
    chosen = choose_images(listed, n, seed)
    files = []
    for voc_set, voc_id in chosen:
        xml = root / voc_set.folder / "Annotations" / f"{voc_id}.xml"
        files.append((voc_set, voc_id, xml, image_file(root / voc_set.folder, voc_id, parse_xml(xml), xml)))

    def fill(tmp: Path) -> None:
        for voc_set, voc_id, xml, image in files:
            link_or_copy(xml, tmp / voc_set.folder / "Annotations" / xml.name, link)
            link_or_copy(image, tmp / voc_set.folder / "JPEGImages" / image.name, link)
            write_split_file(tmp / voc_set.folder, voc_set.split, [voc_id])

    return write_dir_atomic(out, fill)
