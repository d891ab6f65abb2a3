"""The random affine after the mosaic: scale about the image centre, translate, and cut out an
S x S input; boxes follow and those the cut ruins are dropped (ultralytics' RandomPerspective with
no rotation, shear or perspective, its defaults for YOLOv8)."""

from __future__ import annotations

import cv2
import numpy as np

from asffbench.data.reference_augment.sample import Sample
from asffbench.data.ultralytics_augment.mosaic import FILL

# A box is kept when it is wider and taller than MIN_SIDE pixels, keeps more than MIN_AREA_KEPT
# of its scaled area, and its aspect ratio stays under MAX_ASPECT (ultralytics' box_candidates).
MIN_SIDE = 2.0
MIN_AREA_KEPT = 0.10
MAX_ASPECT = 100.0
EPS = 1e-16


def affine_matrix(image_shape: tuple[int, int], size: int, gain: float, shift: tuple[float, float]) -> np.ndarray:
    """2x3: the image centre to the origin, scale by `gain`, then to (shift x S) in the output."""
    height, width = image_shape
    matrix = np.array([[gain, 0.0, 0.0], [0.0, gain, 0.0]])
    matrix[:, 2] = (shift[0] * size - gain * width / 2, shift[1] * size - gain * height / 2)
    return matrix


def transform_boxes(boxes: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The axis-aligned hull of each box's four transformed corners."""
    corners = boxes[:, [0, 1, 2, 3, 0, 3, 2, 1]].reshape(-1, 2)
    moved = (corners @ matrix[:, :2].T + matrix[:, 2]).reshape(-1, 4, 2)
    return np.concatenate([moved.min(axis=1), moved.max(axis=1)], axis=1)


def kept_boxes(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Which transformed boxes stay: `before` scaled by the gain, `after` clipped to the output."""
    w1, h1 = before[:, 2] - before[:, 0], before[:, 3] - before[:, 1]
    w2, h2 = after[:, 2] - after[:, 0], after[:, 3] - after[:, 1]
    aspect = np.maximum(w2 / (h2 + EPS), h2 / (w2 + EPS))
    return (w2 > MIN_SIDE) & (h2 > MIN_SIDE) & (w2 * h2 / (w1 * h1 + EPS) > MIN_AREA_KEPT) & (aspect < MAX_ASPECT)


def random_affine(sample: Sample, size: int, rng: np.random.Generator, translate: float = 0.1,
                  scale: float = 0.5) -> Sample:
    """Gain ~ U(1 - scale, 1 + scale); the image centre lands at U(0.5 +- translate) x S on each
    axis; the S x S output is filled with grey where the image does not reach."""
    gain = rng.uniform(1 - scale, 1 + scale)
    shift = (rng.uniform(0.5 - translate, 0.5 + translate), rng.uniform(0.5 - translate, 0.5 + translate))
    matrix = affine_matrix((sample.height, sample.width), size, gain, shift)
    image = cv2.warpAffine(sample.image, matrix, dsize=(size, size), borderValue=(FILL, FILL, FILL))
    after = transform_boxes(sample.boxes, matrix).clip(0, size)
    keep = kept_boxes(sample.boxes * gain, after)
    out = sample.replace(image=image, boxes=after)
    return out.keep(keep)
