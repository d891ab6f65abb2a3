"""The random affine warp (the reference's `random_affine`), applied with probability 1/2:
rotation U(-10, 10) degrees and scale U(0.9, 1.1) about the centre, translation up to 10% (x by
the image HEIGHT, y by the WIDTH, as the reference has it), shear U(-2, 2) degrees on each axis;
the border filled with the mean. A box becomes the hull of its 4 warped corners, shrunk about its
centre by max(|sin a|, |cos a|)^0.5 (a rotated box's hull is larger than the object), clipped to
the image."""

from __future__ import annotations

import math

import cv2
import numpy as np

from asffbench.data.reference_augment.geometry import MEAN_FILL
from asffbench.data.reference_augment.sample import Sample, coin

ROTATION_DEG = 10.0
SCALE_RANGE = (0.9, 1.1)
TRANSLATE = 0.1  # of the image side
SHEAR_DEG = 2.0


def affine_matrix(height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(3x3 matrix shear @ translate @ rotate-scale, rotation angle in degrees)."""
    angle = rng.uniform(-ROTATION_DEG, ROTATION_DEG)
    scale = rng.uniform(*SCALE_RANGE)
    rotate = np.eye(3)
    rotate[:2] = cv2.getRotationMatrix2D(center=(width / 2, height / 2), angle=angle, scale=scale)
    translate = np.eye(3)
    translate[0, 2] = rng.uniform(-1, 1) * TRANSLATE * height
    translate[1, 2] = rng.uniform(-1, 1) * TRANSLATE * width
    shear = np.eye(3)
    shear[0, 1] = math.tan(math.radians(rng.uniform(-SHEAR_DEG, SHEAR_DEG)))
    shear[1, 0] = math.tan(math.radians(rng.uniform(-SHEAR_DEG, SHEAR_DEG)))
    return shear @ translate @ rotate, angle


def warp_boxes(boxes: np.ndarray, matrix: np.ndarray, angle: float, height: int, width: int) -> np.ndarray:
    corners = boxes[:, [0, 1, 2, 3, 0, 3, 2, 1]].reshape(-1, 2)  # (x1,y1) (x2,y2) (x1,y2) (x2,y1)
    warped = (np.hstack([corners, np.ones((len(corners), 1))]) @ matrix.T)[:, :2].reshape(-1, 4, 2)
    low, high = warped.min(axis=1), warped.max(axis=1)
    shrink = max(abs(math.sin(math.radians(angle))), abs(math.cos(math.radians(angle)))) ** 0.5
    centre, half = (low + high) / 2, (high - low) * shrink / 2
    out = np.hstack([centre - half, centre + half])
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


def random_affine(sample: Sample, rng: np.random.Generator, fill: tuple[int, int, int] = MEAN_FILL) -> Sample:
    if not coin(rng):
        return sample
    height, width = sample.height, sample.width
    matrix, angle = affine_matrix(height, width, rng)
    image = cv2.warpPerspective(sample.image, matrix, dsize=(width, height), flags=cv2.INTER_LINEAR,
                                borderValue=fill)
    return sample.replace(image=image, boxes=warp_boxes(sample.boxes, matrix, angle, height, width))
