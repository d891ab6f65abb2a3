"""One training sample as the reference's augmentation steps see it: a uint8 image and its boxes,
labels and mixup weights, which travel (and are dropped) together."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np

# Per-image OpenCV calls on small images: its thread pool costs more than it gives, and it does
# not survive the DataLoader's fork reliably.
cv2.setNumThreads(0)


@dataclass(frozen=True)
class Sample:
    image: np.ndarray  # (H, W, 3) uint8, RGB
    boxes: np.ndarray  # (N, 4) float64 x1, y1, x2, y2 in image pixels
    labels: np.ndarray  # (N,) int64
    weights: np.ndarray  # (N,) float64: the mixup weight of each box's source image

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def __len__(self) -> int:
        return len(self.boxes)

    def replace(self, **changes: np.ndarray) -> "Sample":
        return dataclasses.replace(self, **changes)

    def keep(self, mask: np.ndarray) -> "Sample":
        """The boxes (with their labels and weights) where `mask` is true, or the first N (a slice)."""
        return self.replace(boxes=self.boxes[mask], labels=self.labels[mask], weights=self.weights[mask])


# A step: (sample, generator) -> sample. Steps never change their input in place.
Step = Callable[[Sample, np.random.Generator], Sample]


def make_sample(
    image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, weights: Optional[np.ndarray] = None
) -> Sample:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    weights = np.ones(len(boxes)) if weights is None else np.asarray(weights, dtype=np.float64)
    return Sample(np.ascontiguousarray(image, dtype=np.uint8), boxes, np.asarray(labels, dtype=np.int64), weights)


def coin(rng: np.random.Generator) -> bool:
    """The reference's `random.randrange(2)`: true with probability 1/2."""
    return bool(rng.integers(2))
