"""HSV jitter and the horizontal flip of ultralytics' pipeline."""

from __future__ import annotations

import cv2
import numpy as np

from asffbench.data.reference_augment.sample import Sample


def hsv_tables(gains: np.ndarray) -> np.ndarray:
    """(1, 256, 3) lookup tables for H, S, V given the drawn offsets r (each in [-gain, gain]):
    hue shifted by r_h x 180 (OpenCV's hue is 0..179), saturation and value scaled by 1 + r,
    saturation 0 kept at 0 (so grey stays grey), as ultralytics 8.4 builds them."""
    x = np.arange(256, dtype=np.float64)
    hue = ((x + gains[0] * 180) % 180).astype(np.uint8)
    saturation = np.clip(x * (gains[1] + 1), 0, 255).astype(np.uint8)
    value = np.clip(x * (gains[2] + 1), 0, 255).astype(np.uint8)
    saturation[0] = 0
    return np.stack([hue, saturation, value], axis=-1).reshape(1, 256, 3)


def random_hsv(sample: Sample, rng: np.random.Generator, gains: tuple[float, float, float] = (0.015, 0.7, 0.4)) -> Sample:
    """Offsets r ~ U(-1, 1) x gains for hue, saturation and value, through `hsv_tables`."""
    if not any(gains):
        return sample
    offsets = rng.uniform(-1, 1, 3) * np.asarray(gains)
    hsv = cv2.cvtColor(sample.image, cv2.COLOR_RGB2HSV)
    image = cv2.cvtColor(cv2.LUT(hsv, hsv_tables(offsets)), cv2.COLOR_HSV2RGB)
    return sample.replace(image=image)


def random_flip(sample: Sample, rng: np.random.Generator, p: float = 0.5) -> Sample:
    """With probability p, left-right: x -> W - x."""
    if not rng.random() < p:
        return sample
    boxes = sample.boxes.copy()
    boxes[:, [0, 2]] = sample.width - sample.boxes[:, [2, 0]]
    return sample.replace(image=np.ascontiguousarray(sample.image[:, ::-1]), boxes=boxes)
