"""The reference's reading of a training box (`recipe.box_clamp`), under its inclusive convention
(x2 = x + w - 1): x1 = max(0, x), x2 = min(W - 1, x1 + max(0, w - 1)), y alike. The far corner is
measured from the CLAMPED near one, so a box starting left of the image keeps its width rather
than losing the part outside; a box under 1 px becomes a 1-pixel box (x2 = x1) instead of
inverting. A box whose corners still cross (it starts past the right or bottom edge) has no
inclusive area and is dropped."""

from __future__ import annotations

import numpy as np


def clamp_inclusive_boxes(boxes: np.ndarray, labels: np.ndarray, width: int, height: int
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(clamped boxes, their labels): `boxes` (N, 4) inclusive x1, y1, x2, y2 = x + w - 1."""
    out = np.empty_like(boxes)
    for near, far, side in ((0, 2, width), (1, 3, height)):
        extent_minus_1 = boxes[:, far] - boxes[:, near]  # w - 1
        out[:, near] = np.maximum(0, boxes[:, near])
        out[:, far] = np.minimum(side - 1, out[:, near] + np.maximum(0, extent_minus_1))
    keep = (out[:, 2] >= out[:, 0]) & (out[:, 3] >= out[:, 1])
    return out[keep], labels[keep]
