"""The SSD random crop (the reference's `_crop`): a mode drawn uniformly from no crop, a minimum
IoU of 0.1 / 0.3 / 0.5 / 0.7 / 0.9, or no constraint (so 6 of 7 images are cropped); up to 50
tries per mode, each accepted when EVERY box overlaps the crop with at least that IoU and at
least one box centre lies inside it; after 50 failed tries the mode is drawn again."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
from torchvision.ops import box_iou

from asffbench.data.reference_augment.sample import Sample

NO_CROP = None
CROP_MODES: tuple[Optional[float], ...] = (NO_CROP, 0.1, 0.3, 0.5, 0.7, 0.9, -math.inf)  # minimum IoU
TRIES_PER_MODE = 50
SCALE_RANGE = (0.3, 1.0)  # of each side
MAX_RATIO_SQ = 2.0


def ssd_crop(sample: Sample, rng: np.random.Generator) -> Sample:
    if len(sample) == 0:
        return sample
    while True:  # ends: the no-crop mode is drawn with probability 1/7 each round
        min_iou = CROP_MODES[int(rng.integers(len(CROP_MODES)))]
        if min_iou is NO_CROP:
            return sample
        for _ in range(TRIES_PER_MODE):
            cropped = try_crop(sample, rng, min_iou)
            if cropped is not None:
                return cropped


def crop_window(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A random window [left, top, right, bottom]: scale ~ U(0.3, 1), ratio^2 ~ U(max(1/2,
    scale^2), min(2, 1/scale^2)), w = scale x ratio x W, h = scale / ratio x H."""
    scale = rng.uniform(*SCALE_RANGE)
    ratio = math.sqrt(rng.uniform(max(1 / MAX_RATIO_SQ, scale**2), min(MAX_RATIO_SQ, 1.0 / scale**2)))
    w, h = int(scale * ratio * width), int(scale / ratio * height)
    # The reference's randrange(W - w): a left edge in [0, W - w); a full-width crop starts at 0.
    left = int(rng.integers(width - w)) if width > w else 0
    top = int(rng.integers(height - h)) if height > h else 0
    return np.array([left, top, left + w, top + h], dtype=np.float64)


def try_crop(sample: Sample, rng: np.random.Generator, min_iou: float) -> Optional[Sample]:
    """One try: the cropped sample, or None when the window fails the IoU bound or keeps no box."""
    window = crop_window(sample.height, sample.width, rng)
    if window[2] <= window[0] or window[3] <= window[1]:
        return None
    iou = box_iou(torch.from_numpy(sample.boxes), torch.from_numpy(window[None]))[:, 0]
    if float(iou.min()) < min_iou:
        return None
    centres = (sample.boxes[:, :2] + sample.boxes[:, 2:]) / 2
    inside = ((window[:2] < centres) & (centres < window[2:])).all(axis=1)
    if not inside.any():
        return None
    kept = sample.keep(inside)
    boxes = kept.boxes.copy()
    boxes[:, :2] = np.maximum(boxes[:, :2], window[:2]) - window[:2]
    boxes[:, 2:] = np.minimum(boxes[:, 2:], window[2:]) - window[:2]
    left, top, right, bottom = window.astype(int)
    return kept.replace(image=np.ascontiguousarray(sample.image[top:bottom, left:right]), boxes=boxes)
