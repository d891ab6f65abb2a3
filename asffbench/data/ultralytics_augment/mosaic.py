"""The mosaic of four: images placed around a random centre of a 2S x 2S grey canvas."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from asffbench.data.reference_augment.sample import Sample

FILL = 114  # ultralytics' grey, for the canvas and the affine's border


def mosaic_centre(size: int, rng: np.random.Generator) -> tuple[int, int]:
    """(xc, yc), each uniform in [S/2, 3S/2) truncated to an int, as ultralytics draws them."""
    low, high = size // 2, 2 * size - size // 2
    return int(rng.uniform(low, high)), int(rng.uniform(low, high))


def placements(centre: tuple[int, int], shapes: Sequence[tuple[int, int]], size: int
               ) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """For each of the four (h, w) images, (canvas box, image box) as (x1, y1, x2, y2): top left,
    top right, bottom left, bottom right of the centre, each image cut at the canvas edge."""
    xc, yc = centre
    edge = 2 * size
    boxes = []
    for corner, (h, w) in enumerate(shapes):
        if corner == 0:
            canvas = (max(xc - w, 0), max(yc - h, 0), xc, yc)
        elif corner == 1:
            canvas = (xc, max(yc - h, 0), min(xc + w, edge), yc)
        elif corner == 2:
            canvas = (max(xc - w, 0), yc, xc, min(edge, yc + h))
        else:
            canvas = (xc, yc, min(xc + w, edge), min(edge, yc + h))
        cw, ch = canvas[2] - canvas[0], canvas[3] - canvas[1]
        left = w - cw if corner in (0, 2) else 0  # images left of the centre keep their right part
        top = h - ch if corner in (0, 1) else 0  # images above it keep their bottom part
        boxes.append((canvas, (left, top, left + cw, top + ch)))
    return boxes


def mosaic4(samples: Sequence[Sample], size: int, rng: np.random.Generator) -> Sample:
    """Four samples (already long side = size) on a 2S x 2S canvas; boxes shifted with their
    image, clipped to the canvas, and dropped when nothing is left of them (zero area)."""
    centre = mosaic_centre(size, rng)
    canvas = np.full((2 * size, 2 * size, 3), FILL, dtype=np.uint8)
    parts = []
    for sample, (dst, src) in zip(samples, placements(centre, [(s.height, s.width) for s in samples], size)):
        canvas[dst[1]:dst[3], dst[0]:dst[2]] = sample.image[src[1]:src[3], src[0]:src[2]]
        shift = (dst[0] - src[0], dst[1] - src[1]) * 2
        parts.append(sample.replace(boxes=sample.boxes + shift))
    boxes = np.concatenate([p.boxes for p in parts]).reshape(-1, 4).clip(0, 2 * size)
    merged = Sample(canvas, boxes, np.concatenate([p.labels for p in parts]),
                    np.concatenate([p.weights for p in parts]))
    return merged.keep((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
