"""The training resize to the square input (the reference's `preproc_for_test` inside its
`TrainTransform`): one of five OpenCV interpolations drawn at random per image. A stretch, as the
reference does, or a letterbox (`recipe.train_resize`)."""

from __future__ import annotations

import cv2
import numpy as np

from asffbench.data.opencv_resize import resize_array, scale_boxes
from asffbench.data.reference_augment.sample import Sample
from asffbench.data.transforms import Scale

INTERPOLATIONS = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA, cv2.INTER_NEAREST, cv2.INTER_LANCZOS4)


def resize_to_square(
    sample: Sample, size: int, mode: str, rng: np.random.Generator
) -> tuple[Sample, Scale, tuple[int, int]]:
    """(resized sample, scale, (left, top) pad): input px = px * scale + pad, per axis."""
    interpolation = INTERPOLATIONS[int(rng.integers(len(INTERPOLATIONS)))]
    image, scale, pad = resize_array(sample.image, size, mode, interpolation)
    return sample.replace(image=image, boxes=scale_boxes(sample.boxes, scale, pad)), scale, pad
