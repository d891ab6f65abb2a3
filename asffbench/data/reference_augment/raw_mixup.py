"""Mixup as the reference does it (`dataset/mixupdetection.py`): on the RAW images, before any
augmentation; the blend then goes through one augmentation as a single image."""

from __future__ import annotations

import numpy as np

from asffbench.data.mixup import BETA_ALPHA
from asffbench.data.reference_augment.sample import Sample


def draw_lambda(rng: np.random.Generator) -> float:
    """lambda ~ Beta(1.5, 1.5) clipped to [0, 1]; the reference blends when lambda < 1."""
    return float(np.clip(rng.beta(BETA_ALPHA, BETA_ALPHA), 0.0, 1.0))


def blend_raw(first: Sample, second: Sample, lam: float) -> Sample:
    """A zero canvas of the larger height and width; first x lam added at the top-left, second x
    (1 - lam) added at the top-left; truncated to uint8. The boxes of both, weighted lam and
    1 - lam."""
    height, width = max(first.height, second.height), max(first.width, second.width)
    canvas = np.zeros((height, width, 3), dtype=np.float32)
    canvas[:first.height, :first.width] = first.image.astype(np.float32) * lam
    canvas[:second.height, :second.width] += second.image.astype(np.float32) * (1.0 - lam)
    return Sample(
        image=canvas.astype(np.uint8),
        boxes=np.concatenate([first.boxes, second.boxes]),
        labels=np.concatenate([first.labels, second.labels]),
        weights=np.concatenate([first.weights * lam, second.weights * (1.0 - lam)]),
    )
