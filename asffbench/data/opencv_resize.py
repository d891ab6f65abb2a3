"""OpenCV's resize of a uint8 (H, W, 3) array to the square model input, a stretch or a
letterbox: the reference's kernels, for its training resize (`reference_augment.resize`, a
random interpolation per image) and its test-time resize (`recipe.test_interp=opencv_linear`,
`cv2.INTER_LINEAR`). OpenCV resizes without antialiasing, unlike torchvision's test-time resize,
which is why the two give different pixels (and APs) for the same image."""

from __future__ import annotations

import cv2
import numpy as np

from asffbench.config.schema import choice_str
from asffbench.data.transforms import PAD_VALUE, RESIZE_MODES, Scale, letterbox_geometry


def resize_array(image: np.ndarray, size: int, mode: str, interpolation: int) -> tuple[np.ndarray, Scale, tuple[int, int]]:
    """(size x size image, scale, (left, top) pad), input px = px * scale + pad per axis; a
    stretch has one scale per axis (sx, sy), a letterbox one scale."""
    mode = choice_str(mode)  # a str enum from the config
    height, width = image.shape[:2]
    if mode == "stretch":
        return cv2.resize(image, (size, size), interpolation=interpolation), (size / width, size / height), (0, 0)
    if mode == "letterbox":
        scale, (new_h, new_w), (left, top) = letterbox_geometry(height, width, size)
        canvas = np.full((size, size, 3), PAD_VALUE, dtype=np.uint8)
        canvas[top:top + new_h, left:left + new_w] = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
        return canvas, scale, (left, top)
    raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")


def scale_boxes(boxes: np.ndarray, scale: Scale, pad: tuple[int, int]) -> np.ndarray:
    """xyxy boxes of the original image in the resized image's pixels."""
    sx, sy = scale if isinstance(scale, tuple) else (scale, scale)
    left, top = pad
    return boxes * (sx, sy, sx, sy) + (left, top, left, top)
