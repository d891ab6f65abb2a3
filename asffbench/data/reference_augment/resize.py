"""The training resize to the square input (the reference's `preproc_for_test` inside its
`TrainTransform`): one of five OpenCV interpolations drawn at random per image. A stretch, as the
reference does, or a letterbox (`recipe.train_resize`)."""

from __future__ import annotations

import cv2
import numpy as np

from asffbench.config.schema import choice_str
from asffbench.data.reference_augment.sample import Sample
from asffbench.data.transforms import PAD_VALUE, Scale, letterbox_geometry

INTERPOLATIONS = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA, cv2.INTER_NEAREST, cv2.INTER_LANCZOS4)


def resize_to_square(
    sample: Sample, size: int, mode: str, rng: np.random.Generator
) -> tuple[Sample, Scale, tuple[int, int]]:
    """(resized sample, scale, (left, top) pad): input px = px * scale + pad, per axis."""
    interpolation = INTERPOLATIONS[int(rng.integers(len(INTERPOLATIONS)))]
    mode = choice_str(mode)  # a str enum from the config
    height, width = sample.height, sample.width
    if mode == "stretch":
        image = cv2.resize(sample.image, (size, size), interpolation=interpolation)
        sx, sy = size / width, size / height
        return sample.replace(image=image, boxes=sample.boxes * (sx, sy, sx, sy)), (sx, sy), (0, 0)
    if mode == "letterbox":
        scale, (new_h, new_w), (left, top) = letterbox_geometry(height, width, size)
        canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
        canvas[top:top + new_h, left:left + new_w] = cv2.resize(sample.image, (new_w, new_h), interpolation=interpolation)
        boxes = sample.boxes * scale + (left, top, left, top)
        return sample.replace(image=canvas, boxes=boxes), scale, (left, top)
    raise ValueError(f"resize mode must be stretch or letterbox, got {mode!r}")
