"""Statistics of a COCO-format split (for `asffbench data check` and the tests)."""

from __future__ import annotations

from asffbench.data.coco import CocoDataset

# COCO's area ranges (COCOeval's areaRng): small < 32^2 <= medium <= 96^2 < large.
SMALL_MAX_AREA = 32**2
LARGE_MIN_AREA = 96**2


def size_range(area: float) -> str:
    if area < SMALL_MAX_AREA:
        return "small"
    return "large" if area > LARGE_MIN_AREA else "medium"


def split_stats(source: CocoDataset) -> dict:
    """Counts of images, negatives, boxes per COCO size range and per class, crowd boxes and
    VOC `difficult` boxes (held as crowd regions, counted apart); `annotated` False for a test
    split (image info only)."""
    anns = source.coco.dataset["annotations"]
    difficult = [a for a in anns if a.get("difficult", 0)]
    crowd = [a for a in anns if a.get("iscrowd", 0) and not a.get("difficult", 0)]
    boxes = [a for a in anns if not a.get("iscrowd", 0)]
    by_size = {"small": 0, "medium": 0, "large": 0}
    by_class = {name: 0 for name in source.class_names}
    for ann in boxes:
        by_size[size_range(ann["area"])] += 1
        by_class[source.class_names[source.cat_id_to_label[ann["category_id"]]]] += 1
    negatives = sum(1 for i in range(len(source)) if len(source.targets(i)[1]) == 0)
    return {
        "ann_file": str(source.ann_file),
        "images": len(source),
        "annotated": source.annotated,
        "negatives": negatives,
        "boxes": len(boxes),
        "crowd": len(crowd),
        "difficult": len(difficult),
        "boxes_by_size": by_size,
        "classes": by_class,
    }
