"""Expand (zoom out onto a mean-filled canvas, with aspect jitter) and the horizontal mirror."""

from __future__ import annotations

import math

import numpy as np

from asffbench.data.reference_augment.sample import Sample, coin
from asffbench.data.transforms import IMAGENET_MEAN

# The canvas colour: the ImageNet mean x 255, truncated to uint8 as the reference's fill is.
MEAN_FILL: tuple[int, int, int] = tuple(int(255 * m) for m in IMAGENET_MEAN)  # type: ignore[assignment]
# The affine warp's border: the reference passes the float mean x 255 to cv2.warpPerspective,
# which rounds it to the image's uint8: RGB (124, 116, 104), one grey level above the truncated
# fill (123, 116, 103) on two channels (recipe.affine_fill=rounded).
ROUNDED_MEAN_FILL: tuple[int, int, int] = tuple(round(255 * m) for m in IMAGENET_MEAN)  # type: ignore[assignment]
AFFINE_FILLS = {"truncated": MEAN_FILL, "rounded": ROUNDED_MEAN_FILL}
MAX_RATIO_SQ = 2.0  # aspect jitter: ratio^2 within [1/2, 2], bounded by the scale


def expand(sample: Sample, rng: np.random.Generator, max_scale: float = 4.0,
           fill: tuple[int, int, int] = MEAN_FILL) -> Sample:
    """With probability 1/2: a canvas (scale x ratio) W by (scale / ratio) H, scale ~ U(1,
    max_scale), ratio^2 ~ U(max(1/2, 1/scale^2), min(2, scale^2)), filled with `fill`, the image
    at a random offset."""
    if not coin(rng):
        return sample
    height, width = sample.height, sample.width
    scale = rng.uniform(1.0, max_scale)
    ratio = math.sqrt(rng.uniform(max(1 / MAX_RATIO_SQ, 1.0 / scale**2), min(MAX_RATIO_SQ, scale**2)))
    if scale * ratio < 1 or scale / ratio < 1:  # cannot happen within the bounds but for rounding
        return sample
    new_w, new_h = int(scale * ratio * width), int(scale / ratio * height)
    left = int(rng.integers(0, new_w - width + 1))
    top = int(rng.integers(0, new_h - height + 1))
    canvas = np.empty((new_h, new_w, 3), dtype=np.uint8)
    canvas[:] = fill
    canvas[top:top + height, left:left + width] = sample.image
    return sample.replace(image=canvas, boxes=sample.boxes + (left, top, left, top))


def mirror(sample: Sample, rng: np.random.Generator) -> Sample:
    """With probability 1/2, flip left-right: x -> W - x."""
    if not coin(rng):
        return sample
    boxes = sample.boxes.copy()
    boxes[:, [0, 2]] = sample.width - sample.boxes[:, [2, 0]]
    return sample.replace(image=np.ascontiguousarray(sample.image[:, ::-1]), boxes=boxes)
