"""Each image's load-time resize: the long side to the input size (ultralytics' `load_image`)."""

from __future__ import annotations

import math

import cv2

from asffbench.data.reference_augment.sample import Sample


def long_side_to(sample: Sample, size: int) -> Sample:
    """Scale so that the long side is `size` (up or down; each side rounded up, never past
    `size`), bilinear as ultralytics resizes when augmenting; boxes follow."""
    height, width = sample.height, sample.width
    ratio = size / max(height, width)
    if ratio == 1:
        return sample
    new_w, new_h = min(math.ceil(width * ratio), size), min(math.ceil(height * ratio), size)
    image = cv2.resize(sample.image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    scale = (new_w / width, new_h / height, new_w / width, new_h / height)
    return sample.replace(image=image, boxes=sample.boxes * scale)
