"""Colour distortion (the reference's `_distort`): brightness, contrast, then hue and saturation
in OpenCV's HSV (hue 0..179), each applied with probability 1/2, in this fixed order, no channel
swap. Values are clipped to 0..255 and truncated to uint8, as the reference's in-place writes do."""

from __future__ import annotations

import cv2
import numpy as np

from asffbench.data.reference_augment.sample import Sample, coin

BRIGHTNESS_DELTA = 32.0  # additive, U(-32, 32)
CONTRAST_RANGE = (0.5, 1.5)  # multiplicative
HUE_DELTA = 18  # OpenCV hue units (2 degrees each), randint(-18, 18), wrapped mod 180
SATURATION_RANGE = (0.5, 1.5)  # multiplicative
HUE_PERIOD = 180


def scale_and_shift(values: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """values * alpha + beta, clipped to 0..255, truncated to uint8."""
    return np.clip(values.astype(np.float64) * alpha + beta, 0, 255).astype(np.uint8)


def random_brightness(sample: Sample, rng: np.random.Generator) -> Sample:
    if not coin(rng):
        return sample
    return sample.replace(image=scale_and_shift(sample.image, beta=rng.uniform(-BRIGHTNESS_DELTA, BRIGHTNESS_DELTA)))


def random_contrast(sample: Sample, rng: np.random.Generator) -> Sample:
    if not coin(rng):
        return sample
    return sample.replace(image=scale_and_shift(sample.image, alpha=rng.uniform(*CONTRAST_RANGE)))


def random_hue_saturation(sample: Sample, rng: np.random.Generator) -> Sample:
    """The HSV round trip happens whether or not hue or saturation change (it is lossy, as in the
    reference)."""
    hsv = cv2.cvtColor(sample.image, cv2.COLOR_RGB2HSV)
    if coin(rng):
        shift = int(rng.integers(-HUE_DELTA, HUE_DELTA + 1))
        hsv[..., 0] = (hsv[..., 0].astype(np.int64) + shift) % HUE_PERIOD
    if coin(rng):
        hsv[..., 1] = scale_and_shift(hsv[..., 1], alpha=rng.uniform(*SATURATION_RANGE))
    return sample.replace(image=cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))
