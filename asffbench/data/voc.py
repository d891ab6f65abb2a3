"""Pascal VOC-format splits (VOCdevkit layout, one XML file per image) as an in-memory COCO set.

A split is a list of sets `(folder, split)`: `(2007, "trainval")` reads
`<root>/VOC2007/ImageSets/Main/trainval.txt`, then `Annotations/<id>.xml` and
`JPEGImages/<id>.jpg` (or the XML's `<filename>`) of every id listed. A folder that is not a year
is taken as it is (`.` is the root itself), for VOC-format sets that labelling tools write.

The result is the same pycocotools structure the COCO reader builds, so loaders, training, COCO
evaluation and the report work unchanged:
- VOC's 1-based inclusive pixel indices become continuous 0-based corners: x1 = xmin - 1,
  x2 = xmax (so w = xmax - xmin + 1, the VOC devkit's own area convention);
- `difficult` objects stay in the ground truth with `difficult: 1` and `iscrowd: 1`: never a
  training target, ignored by the VOC metric (and matched as crowd regions by COCOeval);
- degenerate boxes (xmax < xmin or ymax < ymin) are skipped with one warning per split;
- malformed XML, a missing file, an unknown class or a box outside the image is a `UserError`.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from asffbench.data.coco import CocoDataset
from asffbench.errors import UserError

log = logging.getLogger(__name__)

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)
DEFAULT_SETS = {"train": [[2007, "trainval"], [2012, "trainval"]], "val": [[2007, "test"]]}


@dataclass(frozen=True)
class VocSet:
    folder: str  # "VOC2007", or any folder under the root
    split: str  # "trainval", "test", ...

    def split_file(self, root: Path) -> Path:
        return root / self.folder / "ImageSets" / "Main" / f"{self.split}.txt"


def parse_sets(value: Optional[Sequence[Any]], option: str, default: Sequence[Any]) -> list[VocSet]:
    """`[[2007, trainval], ...]` (None -> `default`) as VocSets; UserError naming `option`."""
    items = default if value is None else value
    shown = [list(item) if isinstance(item, tuple) else item for item in items]  # as the option is written
    sets = []
    for item in items:
        if isinstance(item, str) or not isinstance(item, Sequence) or len(item) != 2:
            raise UserError(f"{option}={shown}: each set is [year or folder, split], e.g. [2007, trainval]")
        folder, split = str(item[0]), str(item[1])
        sets.append(VocSet(f"VOC{folder}" if folder.isdigit() else folder, split))
    if not sets:
        raise UserError(f"{option}: empty; name at least one set, e.g. [[2007, trainval]]")
    if len(set(sets)) != len(sets):
        raise UserError(f"{option}={shown}: a set is listed twice")
    return sets


def read_ids(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").split()
    except FileNotFoundError:
        raise UserError(f"{path}: split file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read split file: {err}") from None
    if not lines:
        raise UserError(f"{path}: split file lists no images")
    return lines


def child_text(node: ET.Element, tag: str, path: Path, default: Optional[str] = None) -> str:
    found = node.find(tag)
    if found is None or found.text is None or not found.text.strip():
        if default is not None:
            return default
        raise UserError(f"{path}: malformed VOC annotation: no <{tag}> in <{node.tag}>")
    return found.text.strip()


def child_number(node: ET.Element, tag: str, path: Path) -> float:
    text = child_text(node, tag, path)
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{path}: malformed VOC annotation: <{tag}> is {text!r}, not a number") from None


def parse_xml(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except FileNotFoundError:
        raise UserError(f"{path}: annotation file not found") from None
    except ET.ParseError as err:
        raise UserError(f"{path}: malformed XML: {err}") from None
    except OSError as err:
        raise UserError(f"{path}: cannot read annotation file: {err}") from None


def read_objects(root: ET.Element, path: Path, width: float, height: float, class_ids: dict) -> tuple[list, int]:
    """The image's objects as (category id, [x1, y1, w, h], difficult) and its degenerate count."""
    objects, degenerate = [], 0
    for obj in root.iter("object"):
        name = child_text(obj, "name", path)
        if name not in class_ids:
            raise UserError(f"{path}: class {name!r} is not in data.classes")
        box = obj.find("bndbox")
        if box is None:
            raise UserError(f"{path}: malformed VOC annotation: <object> {name!r} has no <bndbox>")
        xmin, ymin, xmax, ymax = (child_number(box, tag, path) for tag in ("xmin", "ymin", "xmax", "ymax"))
        if xmax < xmin or ymax < ymin:
            degenerate += 1
            continue
        # xmin = 0 occurs in files some labelling tools write; it is the first pixel all the same.
        if xmin < 0 or ymin < 0 or xmax > width or ymax > height:
            raise UserError(
                f"{path}: box of {name!r} ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) is outside the "
                f"{width:g}x{height:g} image"
            )
        x1, y1 = max(xmin - 1.0, 0.0), max(ymin - 1.0, 0.0)
        difficult = child_text(obj, "difficult", path, default="0") not in ("0", "false")
        objects.append((class_ids[name], [x1, y1, xmax - x1, ymax - y1], difficult))
    return objects, degenerate


def image_file(folder: Path, voc_id: str, root: ET.Element, xml_path: Path) -> Path:
    """`JPEGImages/<id>.jpg`, else the XML's `<filename>` (other extensions); it must exist."""
    candidates = [folder / "JPEGImages" / f"{voc_id}.jpg"]
    named = root.findtext("filename")
    if named and named.strip():
        candidates.append(folder / "JPEGImages" / named.strip())
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise UserError(f"{candidates[0]}: image file not found (for {xml_path})")


def voc_to_coco(root: Path, sets: Sequence[VocSet], classes: Sequence[str]) -> dict:
    """The COCO dataset dict of the given sets: image ids 1.., category ids 1.. in class order."""
    class_ids = {name: k + 1 for k, name in enumerate(classes)}
    images, annotations, degenerate = [], [], 0
    for voc_set in sets:
        folder = root / voc_set.folder
        for voc_id in read_ids(voc_set.split_file(root)):
            xml_path = folder / "Annotations" / f"{voc_id}.xml"
            tree = parse_xml(xml_path)
            size = tree.find("size")
            if size is None:
                raise UserError(f"{xml_path}: malformed VOC annotation: no <size>")
            width, height = child_number(size, "width", xml_path), child_number(size, "height", xml_path)
            if width <= 0 or height <= 0:
                raise UserError(f"{xml_path}: image size {width:g}x{height:g} is not positive")
            image_path = image_file(folder, voc_id, tree, xml_path)
            image_id = len(images) + 1
            images.append({
                "id": image_id, "file_name": str(image_path.relative_to(root)),
                "width": int(width), "height": int(height), "voc_id": f"{voc_set.folder}/{voc_id}",
            })
            objects, skipped = read_objects(tree, xml_path, width, height, class_ids)
            degenerate += skipped
            for category_id, bbox, difficult in objects:
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "category_id": category_id,
                    "bbox": bbox, "area": bbox[2] * bbox[3],
                    "iscrowd": int(difficult), "difficult": int(difficult),
                })
    if degenerate:
        log.warning("%s: skipped %d object(s) with a degenerate box (xmax < xmin or ymax < ymin)",
                    describe(root, sets), degenerate)
    categories = [{"id": k, "name": name} for name, k in class_ids.items()]
    return {"images": images, "annotations": annotations, "categories": categories}


def describe(root: Path, sets: Sequence[VocSet]) -> str:
    """How a split is named in messages and statistics: its split files."""
    return " + ".join(str(s.split_file(root)) for s in sets)


def load_voc_split(root: Path, sets: Sequence[VocSet], classes: Sequence[str]) -> CocoDataset:
    root = Path(root).expanduser()
    if len(set(classes)) != len(classes) or not classes:
        raise UserError(f"data.classes={list(classes)}: need at least one class, each named once")
    data = voc_to_coco(root, sets, classes)
    return CocoDataset(Path(describe(root, sets)), root, data=data)


def voc_box(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """A COCO box [x1, y1, w, h] (continuous) back in VOC's 1-based (xmin, ymin, xmax, ymax)."""
    x1, y1, w, h = bbox
    return x1 + 1.0, y1 + 1.0, x1 + w, y1 + h
