"""ultralytics' training transform in its order: (mosaic of four | one image) -> random affine to
S x S -> (mixup with a second such image) -> HSV -> horizontal flip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from asffbench.data.reference_augment.sample import Sample
from asffbench.data.ultralytics_augment.mosaic import mosaic4
from asffbench.data.ultralytics_augment.mosaic_buffer import MosaicBuffer
from asffbench.data.ultralytics_augment.ultralytics_affine import random_affine
from asffbench.data.ultralytics_augment.ultralytics_colour import random_flip, random_hsv
from asffbench.data.ultralytics_augment.ultralytics_mixup import blend
from asffbench.data.ultralytics_augment.ultralytics_resize import long_side_to

MOSAIC_IMAGES = 4


@dataclass(frozen=True)
class UltralyticsAugment:
    """`(load, index, count, size, mosaic_on, rng, mixup_prob, buffer) -> sample`: `load(i)` gives
    dataset image i as a raw Sample. While `mosaic_on` (every epoch but the last `close_mosaic`),
    with probability `mosaic_prob` the sample is a mosaic of image `index` and three others: drawn
    uniformly from the `count` images of the dataset without a `buffer`; with one (ultralytics'
    way, `recipe.mosaic_buffer`), every image goes through it (served if held at this size,
    else loaded, resized and entered; the sample's own first) and the three are drawn uniformly
    from the images it holds."""

    mosaic_prob: float = 1.0
    translate: float = 0.1
    scale: float = 0.5
    hsv_gains: tuple[float, float, float] = (0.015, 0.7, 0.4)
    flip_prob: float = 0.5

    def __call__(self, load: Callable[[int], Sample], index: int, count: int, size: int, mosaic_on: bool,
                 rng: np.random.Generator, mixup_prob: float = 0.0, buffer: Optional[MosaicBuffer] = None) -> Sample:
        """While `mosaic_on`, with probability `mixup_prob` (tricks.mixup's recipe.mixup_prob; 0 in
        the YOLOv8 recipe) the result is blended with a second image made the same way from an
        image drawn uniformly from the dataset (ultralytics' MixUp draws its partner so, buffer or
        not; the partner goes through the buffer like any image; it is closed with the mosaic)."""
        sample = self.placed(load, index, count, size, mosaic_on, rng, buffer)
        if mosaic_on and rng.random() < mixup_prob:
            other = self.placed(load, int(rng.integers(count)), count, size, mosaic_on, rng, buffer)
            sample = blend(sample, other, rng)
        sample = random_hsv(sample, rng, self.hsv_gains)
        return random_flip(sample, rng, self.flip_prob)

    def placed(self, load: Callable[[int], Sample], index: int, count: int, size: int, mosaic_on: bool,
               rng: np.random.Generator, buffer: Optional[MosaicBuffer] = None) -> Sample:
        """Image `index` (or its mosaic) through the random affine: an S x S sample."""
        first = resized(load, index, size, buffer)
        if mosaic_on and rng.random() < self.mosaic_prob:
            others = mosaic_others(rng, count, buffer)
            first = mosaic4([first, *(resized(load, i, size, buffer) for i in others)], size, rng)
        return random_affine(first, size, rng, self.translate, self.scale)


def resized(load: Callable[[int], Sample], index: int, size: int, buffer: Optional[MosaicBuffer]) -> Sample:
    """Image `index` with its long side `size`, through the buffer when there is one."""
    if buffer is None:
        return long_side_to(load(index), size)
    return buffer.resized(index, size, load)


def mosaic_others(rng: np.random.Generator, count: int, buffer: Optional[MosaicBuffer]) -> list[int]:
    """The mosaic's three other images: uniform over the dataset, or over the buffer's images."""
    if buffer is None:
        return [int(i) for i in rng.integers(count, size=MOSAIC_IMAGES - 1)]
    return buffer.draw(rng, MOSAIC_IMAGES - 1)
