"""The reference's training transform as an ordered list of steps, then its resize, box filter,
fallback and cap (`dataset/data_augment.py:TrainTransform`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from asffbench.data.reference_augment.affine import random_affine
from asffbench.data.reference_augment.colour import random_brightness, random_contrast, random_hue_saturation
from asffbench.data.reference_augment.crop import ssd_crop
from asffbench.data.reference_augment.geometry import AFFINE_FILLS, MEAN_FILL, expand, mirror
from asffbench.data.reference_augment.sample import Sample, Step
from asffbench.data.reference_augment.train_resize import resize_to_square
from asffbench.data.transforms import Scale

MAX_BOXES = 50  # boxes per image the reference keeps (its padded target array)


def reference_steps(expand_max: float = 4.0, affine_fill: str = "truncated") -> tuple[Step, ...]:
    """The augmentation steps in the reference's order (before the resize); `affine_fill`: the
    affine border's grey, `truncated` as expand's canvas or `rounded` as OpenCV rounds the
    reference's float mean."""
    return (
        random_brightness,
        random_contrast,
        random_hue_saturation,
        partial(expand, max_scale=expand_max, fill=MEAN_FILL),
        ssd_crop,
        mirror,
        partial(random_affine, fill=AFFINE_FILLS[affine_fill]),
    )


def smaller_side(boxes: np.ndarray) -> np.ndarray:
    return np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])


@dataclass(frozen=True)
class ReferenceAugment:
    """`(sample, size, rng) -> (resized sample, scale, pad)`.

    An image without boxes is only resized (the reference returns it unaugmented). Otherwise the
    steps run, the result is resized, and boxes whose smaller side is > `min_box_size` input
    pixels (strictly) are kept; when none is left, the ORIGINAL sample is resized instead, with
    every one of its boxes. At most `max_boxes` boxes are returned (the first ones).
    """

    expand_max: float = 4.0
    min_box_size: float = 6.0
    resize: str = "stretch"
    max_boxes: int = MAX_BOXES
    affine_fill: str = "truncated"

    def __call__(self, sample: Sample, size: int, rng: np.random.Generator) -> tuple[Sample, Scale, tuple[int, int]]:
        if len(sample) == 0:
            return resize_to_square(sample, size, self.resize, rng)
        augmented = sample
        for step in reference_steps(self.expand_max, self.affine_fill):
            augmented = step(augmented, rng)
        resized, scale, pad = resize_to_square(augmented, size, self.resize, rng)
        resized = resized.keep(smaller_side(resized.boxes) > self.min_box_size)
        if len(resized) == 0:
            resized, scale, pad = resize_to_square(sample, size, self.resize, rng)
        return resized.keep(slice(0, self.max_boxes)), scale, pad
