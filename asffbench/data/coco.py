"""A COCO-format detection dataset on pycocotools' `COCO`, validated with one-line errors.

Conventions (decided here, tested in tests/data):
- images without annotations are kept (negatives);
- a file without an `annotations` key is a test split (image info only, as COCO's test-dev):
  `annotated` is False; an empty `annotations` list is an annotated split without objects;
- `iscrowd` annotations stay in `coco` (COCOeval ignores them) and become training targets only
  when asked (`targets(i, include_crowd=True)`: `recipe.crowd_targets`, as the reference trains
  on them); VOC `difficult` objects (stored as crowd) only when asked
  (`include_difficult=True`: `data.keep_difficult`, as the reference's VOC training);
- annotations whose box has w or h <= 0 are skipped with one logged warning per file (what
  torchvision's and detectron2's COCO readers do); they are removed from `coco` as well;
- a missing `iscrowd` is read as 0 and a missing `area` as w * h (COCOeval needs both);
- every field the loaders read is type-checked: image `width`/`height` (positive integers when
  given), annotation `image_id`/`category_id` (integers), `bbox` (4 finite numbers), `area`
  (a finite number >= 0), `iscrowd` (0 or 1);
- everything else that is malformed raises `UserError` naming the file and record.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pycocotools.coco import COCO

from asffbench.coco_format import has_annotations
from asffbench.errors import UserError

log = logging.getLogger(__name__)


def read_json(path: Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: annotation file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read annotation file: {err}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None


def record_name(kind: str, record: Any, position: int) -> str:
    if isinstance(record, dict) and "id" in record:
        return f"{kind} id {record['id']}"
    return f"{kind} #{position} (no id)"


def is_number(value: Any) -> bool:
    """A finite int or float (JSON's numbers; not a bool, not a numeric string)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_image(image: dict, name: str, path: Path) -> None:
    for key in ("width", "height"):
        if key in image and not (is_integer(image[key]) and image[key] > 0):
            raise UserError(f"{path}: {name} has '{key}' {image[key]!r} (need a positive integer)")


def check_annotation_types(ann: dict, name: str, path: Path) -> None:
    """Types of the fields the loaders read (their values are checked against the dataset after)."""
    for key in ("image_id", "category_id"):
        if not is_integer(ann.get(key)):
            raise UserError(f"{path}: {name} has '{key}' {ann.get(key)!r} (need an integer id)")
    bbox = ann.get("bbox")
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or not all(map(is_number, bbox)):
        raise UserError(f"{path}: {name} has no valid 'bbox' (need 4 finite numbers x, y, w, h)")
    if "area" in ann and not (is_number(ann["area"]) and ann["area"] >= 0):
        raise UserError(f"{path}: {name} has 'area' {ann['area']!r} (need a number >= 0)")
    if "iscrowd" in ann and not (is_integer(ann["iscrowd"]) and ann["iscrowd"] in (0, 1)):
        raise UserError(f"{path}: {name} has 'iscrowd' {ann['iscrowd']!r} (need 0 or 1)")


def validated_coco_dict(data: Any, path: Path) -> dict:
    """A cleaned copy of a COCO annotation dict, or UserError naming the faulty record."""
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise UserError(f"{path}: not a COCO annotation file (no 'images' list)")
    if not data["images"]:
        raise UserError(f"{path}: no images (empty dataset)")
    categories = data.get("categories")
    if not isinstance(categories, list) or not categories:
        raise UserError(f"{path}: no 'categories' (a COCO annotation file needs at least one)")
    annotations = data.get("annotations", [])
    if not isinstance(annotations, list):
        raise UserError(f"{path}: 'annotations' is not a list")

    image_ids: set = set()
    for k, image in enumerate(data["images"]):
        name = record_name("image", image, k)
        if not isinstance(image, dict) or "id" not in image or not isinstance(image.get("file_name"), str):
            raise UserError(f"{path}: {name} needs an 'id' and a 'file_name'")
        if image["id"] in image_ids:
            raise UserError(f"{path}: duplicate image id {image['id']}")
        check_image(image, name, path)
        image_ids.add(image["id"])
    cat_ids: set = set()
    for k, cat in enumerate(categories):
        if not isinstance(cat, dict) or "id" not in cat:
            raise UserError(f"{path}: category #{k} has no 'id'")
        if cat["id"] in cat_ids:
            raise UserError(f"{path}: duplicate category id {cat['id']}")
        cat_ids.add(cat["id"])

    kept, degenerate, ann_ids = [], [], set()
    for k, ann in enumerate(annotations):
        name = record_name("annotation", ann, k)
        if not isinstance(ann, dict) or "id" not in ann:
            raise UserError(f"{path}: {name} is not an object with an 'id'")
        if ann["id"] in ann_ids:
            raise UserError(f"{path}: duplicate annotation id {ann['id']}")
        ann_ids.add(ann["id"])
        check_annotation_types(ann, name, path)
        if ann.get("image_id") not in image_ids:
            raise UserError(f"{path}: {name} refers to unknown image_id {ann.get('image_id')!r}")
        if ann.get("category_id") not in cat_ids:
            raise UserError(f"{path}: {name} refers to unknown category_id {ann.get('category_id')!r}")
        bbox = ann["bbox"]
        if bbox[2] <= 0 or bbox[3] <= 0:
            degenerate.append(ann["id"])
            continue
        clean = dict(ann)
        clean.setdefault("iscrowd", 0)
        clean.setdefault("area", float(bbox[2] * bbox[3]))
        kept.append(clean)
    if degenerate:
        log.warning(
            "%s: skipped %d annotation(s) with a degenerate box (w or h <= 0), e.g. annotation id %s",
            path, len(degenerate), degenerate[0],
        )
    return {**data, "annotations": kept}


def wanted(ann: dict, include_crowd: bool, include_difficult: bool) -> bool:
    """Whether a training read with these flags takes the annotation."""
    if ann.get("difficult", 0):
        return include_difficult
    return include_crowd or not ann.get("iscrowd", 0)


def make_coco(data: dict, coco_cls: type = COCO) -> Any:
    """Index a dataset dict with a COCO class (pycocotools' or a backend's) without touching the
    disk and without its progress prints on stdout."""
    coco = coco_cls()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def load_rgb(path: Path, image_id: Any, decoder: str = "pil") -> Image.Image:
    """Open an image upright (EXIF orientation applied) as RGB (grayscale, RGBA, palette...),
    decoded by PIL or by OpenCV (`decoder="opencv"`, the reference's `cv2.imread`)."""
    if decoder == "opencv":
        return Image.fromarray(decode_opencv(path, image_id))
    try:
        with Image.open(path) as raw:
            upright = ImageOps.exif_transpose(raw)
            return upright.convert("RGB")
    except FileNotFoundError:
        raise UserError(f"{path}: image file not found (image id {image_id})") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise UserError(f"{path}: cannot read image (image id {image_id}): {err}") from None


def decode_opencv(path: Path, image_id: Any) -> np.ndarray:
    """uint8 (H, W, 3) RGB as OpenCV decodes the file (BGR, EXIF orientation applied, flipped to
    RGB); read as bytes so that any path OpenCV's own file reader would mangle still opens."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise UserError(f"{path}: image file not found (image id {image_id})") from None
    except OSError as err:
        raise UserError(f"{path}: cannot read image (image id {image_id}): {err}") from None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise UserError(f"{path}: cannot read image (image id {image_id}): OpenCV cannot decode it")
    return np.ascontiguousarray(bgr[:, :, ::-1])


class CocoDataset:
    """Images and boxes of one COCO-format split, with contiguous labels.

    `label_to_cat_id[label]` is the category id of contiguous label `label` (categories sorted by
    id); `class_names[label]` its name. `boxes(i)` are xyxy in original image pixels.
    """

    def __init__(self, ann_file: Path, image_dir: Path, check_files: bool = True, data: Optional[dict] = None) -> None:
        """`data`: an already validated COCO dict (e.g. read from VOC XML); `ann_file` then only
        names where it came from, in messages and statistics."""
        self.ann_file = Path(ann_file)
        self.image_dir = Path(image_dir)
        if not self.image_dir.is_dir():
            raise UserError(f"{self.image_dir}: image directory not found (for {self.ann_file})")
        # False: the file is image info only, a test split (coco_format.has_annotations).
        self.annotated = True
        if data is None:
            raw = read_json(self.ann_file)
            self.annotated = has_annotations(raw)
            data = validated_coco_dict(raw, self.ann_file)
        self.coco = make_coco(data)
        cats = sorted(self.coco.dataset["categories"], key=lambda c: c["id"])
        self.label_to_cat_id: list = [c["id"] for c in cats]
        self.class_names: list[str] = [str(c.get("name", c["id"])) for c in cats]
        self.cat_id_to_label = {cat_id: label for label, cat_id in enumerate(self.label_to_cat_id)}
        self.images: list[dict] = list(self.coco.dataset["images"])
        self.image_ids: list = [image["id"] for image in self.images]
        if check_files:
            for image in self.images:
                if not (self.image_dir / image["file_name"]).is_file():
                    raise UserError(
                        f"{self.image_dir / image['file_name']}: image file not found "
                        f"(image id {image['id']} in {self.ann_file})"
                    )
        self._targets = [self._training_targets(image_id) for image_id in self.image_ids]
        # Images with crowd or difficult boxes: all their boxes in annotation order (the order the
        # loss's shared-prediction rule and the reference's 50-box cap see), with both flags.
        self._with_special = {
            index: self._training_targets(image_id, include_crowd=True, include_difficult=True)
            for index, image_id in enumerate(self.image_ids)
            if any(a.get("iscrowd", 0) or a.get("difficult", 0) for a in self.coco.imgToAnns.get(image_id, []))
        }
        self._special_flags = {
            index: tuple(np.array([bool(a.get(flag, 0)) for a in self.coco.imgToAnns.get(self.image_ids[index], [])],
                                  dtype=bool) for flag in ("iscrowd", "difficult"))
            for index in self._with_special
        }

    @property
    def num_classes(self) -> int:
        return len(self.label_to_cat_id)

    def __len__(self) -> int:
        return len(self.images)

    def _training_targets(self, image_id: Any, include_crowd: bool = False,
                          include_difficult: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The image's boxes: crowd ones only with `include_crowd`, VOC's difficult ones (also
        marked crowd) only with `include_difficult`."""
        anns = [a for a in self.coco.imgToAnns.get(image_id, []) if wanted(a, include_crowd, include_difficult)]
        boxes = np.array([a["bbox"] for a in anns], dtype=np.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        labels = np.array([self.cat_id_to_label[a["category_id"]] for a in anns], dtype=np.int64)
        return boxes, labels

    def targets(self, index: int, include_crowd: bool = False,
                include_difficult: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(boxes (N, 4) xyxy original px, labels (N,)) of image `index`, in annotation order;
        crowd boxes excluded unless `include_crowd`, difficult ones unless `include_difficult`."""
        if index not in self._with_special or not (include_crowd or include_difficult):
            return self._targets[index]
        crowd, difficult = self._special_flags[index]
        keep = np.where(difficult, include_difficult, include_crowd | ~crowd)
        boxes, labels = self._with_special[index]
        return boxes[keep], labels[keep]

    def image_path(self, index: int) -> Path:
        return self.image_dir / self.images[index]["file_name"]

    def load_image(self, index: int, decoder: str = "pil") -> Image.Image:
        return load_rgb(self.image_path(index), self.image_ids[index], decoder)
