"""ultralytics' MixUp: two augmented S x S samples blended, all boxes of both kept."""

from __future__ import annotations

import numpy as np

from asffbench.data.reference_augment.sample import Sample

BETA = 32.0  # the blend ratio ~ Beta(32, 32): close to an even mix


def blend(first: Sample, second: Sample, rng: np.random.Generator) -> Sample:
    """first x r + second x (1 - r), truncated to uint8 as ultralytics casts it; the boxes of both,
    each at full weight (ultralytics does not weight a blended image's boxes)."""
    ratio = rng.beta(BETA, BETA)
    image = (first.image * ratio + second.image * (1 - ratio)).astype(np.uint8)
    return Sample(image, np.concatenate([first.boxes, second.boxes]), np.concatenate([first.labels, second.labels]),
                  np.concatenate([first.weights, second.weights]))
