"""Mixup for detection (Zhang et al., "Bag of Freebies"): blend two images, keep both box sets.

The boxes of each image keep its blend weight as their loss weight (the 7th target column), so
the two weights of every pixel's sources sum to 1.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

BETA_ALPHA = 1.5  # lambda ~ Beta(1.5, 1.5), as in the paper's recipe


def sample_lambda(rng: np.random.Generator) -> float:
    return float(rng.beta(BETA_ALPHA, BETA_ALPHA))


def mixup(
    image_a: Tensor, target_a: Tensor, image_b: Tensor, target_b: Tensor, lam: float
) -> tuple[Tensor, Tensor]:
    """Blend two same-size float images; targets are (N, 6) rows [label, x1, y1, x2, y2, weight].

    image = lam * a + (1 - lam) * b; the weights of a's boxes are scaled by lam, b's by 1 - lam.
    """
    if image_a.shape != image_b.shape:
        raise ValueError(f"mixup needs images of one size, got {tuple(image_a.shape)} and {tuple(image_b.shape)}")
    image = image_a * lam + image_b * (1.0 - lam)
    weighted_a = target_a.clone()
    weighted_a[:, 5] *= lam
    weighted_b = target_b.clone()
    weighted_b[:, 5] *= 1.0 - lam
    return image, torch.cat([weighted_a, weighted_b], dim=0)
