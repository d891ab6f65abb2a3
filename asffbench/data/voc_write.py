"""Writing VOC-format sets: one annotation's XML, and the synthetic tiny COCO as a VOCdevkit.

The synthetic conversion (`data=voc_synth`, `asffbench data synth --format voc`) puts the synthetic
train images alternately into VOC2007 and VOC2012 `trainval` and its val images into VOC2007
`test`, so the default VOC splits (07+12 trainval, 07 test) apply unchanged. Boxes are rounded to
VOC's 1-based integer pixel indices.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Optional, Sequence

from asffbench.atomic import write_dir_atomic
from asffbench.data.coco import read_json
from asffbench.data.synth import SynthParams, check_empty_out, ensure_cached, ensure_synth

VOC_SYNTH_VERSION = 1


def voc_xml(file_name: str, width: int, height: int, objects: Sequence[dict]) -> bytes:
    """An annotation file; `objects`: {"name", "box": (xmin, ymin, xmax, ymax) 1-based, "difficult"}."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = file_name
    size = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    for obj in objects:
        node = ET.SubElement(root, "object")
        ET.SubElement(node, "name").text = obj["name"]
        ET.SubElement(node, "difficult").text = str(int(obj.get("difficult", 0)))
        box = ET.SubElement(node, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), obj["box"]):
            ET.SubElement(box, tag).text = f"{value:g}"
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8")


def rounded_voc_box(bbox: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """A continuous COCO box [x, y, w, h] as VOC's 1-based inclusive pixel indices, in the image."""
    x, y, w, h = bbox
    xmin, ymin = min(max(round(x) + 1, 1), width), min(max(round(y) + 1, 1), height)
    xmax, ymax = min(max(round(x + w), xmin), width), min(max(round(y + h), ymin), height)
    return xmin, ymin, xmax, ymax


def write_set(coco_file: Path, coco_images: Path, out: Path, assign: list[tuple[str, str]]) -> None:
    """Write the images of one COCO split into `out`; `assign[k]` = (folder, split) of image k."""
    data = read_json(coco_file)
    names = {c["id"]: c["name"] for c in data["categories"]}
    by_image: dict = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    listed: dict[tuple[str, str], list[str]] = {}
    for image, (folder, split) in zip(data["images"], assign):
        voc_id = Path(image["file_name"]).stem
        base = out / folder
        for sub in ("Annotations", "JPEGImages"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy2(coco_images / image["file_name"], base / "JPEGImages" / f"{voc_id}.jpg")
        objects = [
            {"name": names[a["category_id"]], "box": rounded_voc_box(a["bbox"], image["width"], image["height"])}
            for a in by_image.get(image["id"], [])
        ]
        xml = voc_xml(f"{voc_id}.jpg", image["width"], image["height"], objects)
        (base / "Annotations" / f"{voc_id}.xml").write_bytes(xml)
        listed.setdefault((folder, split), []).append(voc_id)
    for (folder, split), ids in listed.items():
        write_split_file(out / folder, split, ids)


def write_split_file(folder: Path, split: str, ids: Sequence[str]) -> None:
    path = folder / "ImageSets" / "Main" / f"{split}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(f"{i}\n" for i in ids))


def synth_as_voc(coco_root: Path, out: Path) -> None:
    """The synthetic COCO under `coco_root` as a VOCdevkit under `out`."""
    train_images = read_json(coco_root / "instances_train.json")["images"]
    val_images = read_json(coco_root / "instances_val.json")["images"]
    years = [("VOC2007", "trainval"), ("VOC2012", "trainval")]
    write_set(coco_root / "instances_train.json", coco_root / "train", out,
              [years[k % 2] for k in range(len(train_images))])
    write_set(coco_root / "instances_val.json", coco_root / "val", out, [("VOC2007", "test")] * len(val_images))


def generate_voc_synth(out: Path, params: SynthParams, cache_dir: Optional[str] = None) -> Path:
    """Write the VOC-format synthetic set to `out` (must not exist or be empty), atomically."""
    out = check_empty_out(out)
    coco_root = ensure_synth(params, cache_dir)
    return write_dir_atomic(out, lambda tmp: synth_as_voc(coco_root, tmp))


def ensure_voc_synth(params: SynthParams, cache_dir: Optional[str] = None) -> Path:
    """The cached VOC-format synthetic set for `params`, written on first use."""
    coco_root = ensure_synth(params, cache_dir)
    final = coco_root.parent / f"{coco_root.name}-voc-v{VOC_SYNTH_VERSION}"
    return ensure_cached(final, lambda tmp: synth_as_voc(coco_root, tmp))

