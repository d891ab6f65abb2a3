"""The named anchor sets of `model.anchors` (torch-free: the config layer reads it).

Each set is nine (w, h) priors in input pixels, small to large (three per level, stride 8 first).
`darknet`: YOLOv3's COCO anchors, asffbench's default. `asff_release`: the anchors the paper's
released Darknet-53 checkpoints were trained with (the stride-16 and stride-32 sets differ from
darknet's in their last prior); a model loading those weights decodes boxes correctly only with them.
`asff_mobile`: the reference's MobileNetV2 models' (its stride-16 set as `asff_release`, its
stride-32 set as darknet's).
"""

from __future__ import annotations

from typing import Any

ANCHOR_SETS: dict[str, list[list[int]]] = {
    "darknet": [
        [10, 13], [16, 30], [33, 23],
        [30, 61], [62, 45], [59, 119],
        [116, 90], [156, 198], [373, 326],
    ],
    "asff_release": [
        [10, 13], [16, 30], [33, 23],
        [30, 61], [62, 45], [42, 119],
        [116, 90], [156, 198], [121, 240],
    ],
    "asff_mobile": [
        [10, 13], [16, 30], [33, 23],
        [30, 61], [62, 45], [42, 119],
        [116, 90], [156, 198], [373, 326],
    ],
}
DEFAULT_ANCHORS = "darknet"
NUM_ANCHORS = 9


def resolve_anchors(value: Any) -> list[list[float]]:
    """A set's name or nine (w, h) pairs -> nine [w, h] float lists; ValueError saying what is wrong."""
    if isinstance(value, str):
        if value not in ANCHOR_SETS:
            raise ValueError(f"unknown anchor set {value!r}; choose from {', '.join(sorted(ANCHOR_SETS))} "
                             f"or give {NUM_ANCHORS} [w, h] pairs")
        value = ANCHOR_SETS[value]
    try:
        pairs = [[float(v) for v in pair] for pair in value]
    except (TypeError, ValueError):
        raise ValueError(f"expected an anchor set name or {NUM_ANCHORS} [w, h] pairs, got {value!r}") from None
    if len(pairs) != NUM_ANCHORS or any(len(p) != 2 or min(p) <= 0 for p in pairs):
        raise ValueError(f"expected {NUM_ANCHORS} positive [w, h] pairs (small to large), got {value}")
    return pairs
