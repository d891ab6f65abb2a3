"""ultralytics' training transform in its order: (mosaic of four | one image) -> random affine to
S x S -> (mixup with a second such image) -> HSV -> horizontal flip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from asffbench.data.reference_augment.sample import Sample
from asffbench.data.ultralytics_augment.affine import random_affine
from asffbench.data.ultralytics_augment.colour import random_flip, random_hsv
from asffbench.data.ultralytics_augment.mixup import blend
from asffbench.data.ultralytics_augment.mosaic import mosaic4
from asffbench.data.ultralytics_augment.resize import long_side_to

MOSAIC_IMAGES = 4


@dataclass(frozen=True)
class UltralyticsAugment:
    """`(load, index, count, size, mosaic_on, rng, mixup_prob) -> sample`: `load(i)` gives dataset image i as
    a raw Sample. While `mosaic_on` (every epoch but the last `close_mosaic`), with probability
    `mosaic_prob` the sample is a mosaic of image `index` and three drawn uniformly from the
    `count` images of the dataset (ultralytics draws them from a buffer of recently loaded
    images, a cache-locality choice with the same distribution once the buffer is full)."""

    mosaic_prob: float = 1.0
    translate: float = 0.1
    scale: float = 0.5
    hsv_gains: tuple[float, float, float] = (0.015, 0.7, 0.4)
    flip_prob: float = 0.5

    def __call__(self, load: Callable[[int], Sample], index: int, count: int, size: int, mosaic_on: bool,
                 rng: np.random.Generator, mixup_prob: float = 0.0) -> Sample:
        """While `mosaic_on`, with probability `mixup_prob` (tricks.mixup's recipe.mixup_prob; 0 in
        the YOLOv8 recipe) the result is blended with a second image made the same way from an
        image drawn uniformly (ultralytics' MixUp; it is closed with the mosaic)."""
        sample = self.placed(load, index, count, size, mosaic_on, rng)
        if mosaic_on and rng.random() < mixup_prob:
            other = self.placed(load, int(rng.integers(count)), count, size, mosaic_on, rng)
            sample = blend(sample, other, rng)
        sample = random_hsv(sample, rng, self.hsv_gains)
        return random_flip(sample, rng, self.flip_prob)

    def placed(self, load: Callable[[int], Sample], index: int, count: int, size: int, mosaic_on: bool,
               rng: np.random.Generator) -> Sample:
        """Image `index` (or its mosaic) through the random affine: an S x S sample."""
        first = long_side_to(load(index), size)
        if mosaic_on and rng.random() < self.mosaic_prob:
            others = rng.integers(count, size=MOSAIC_IMAGES - 1)
            first = mosaic4([first, *(long_side_to(load(int(i)), size) for i in others)], size, rng)
        return random_affine(first, size, rng, self.translate, self.scale)
