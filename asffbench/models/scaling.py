"""Compound scaling of the YOLOv8 family: a scale's depth, width and channel cap.

Widths are min(c, max_channels) x width rounded up to a multiple of 8; a block repeated n times
at depth 1 is repeated max(round(n x depth), 1) times (Python's round, as the family's yaml
parser does). The named scales are yolov8.yaml's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelScale:
    depth: float
    width: float
    max_channels: int

    def channels(self, channels: int) -> int:
        return math.ceil(min(channels, self.max_channels) * self.width / 8) * 8

    def repeats(self, count: int) -> int:
        return max(round(count * self.depth), 1)


YOLOV8_SCALES: dict[str, ModelScale] = {
    "n": ModelScale(depth=0.33, width=0.25, max_channels=1024),
    "s": ModelScale(depth=0.33, width=0.50, max_channels=1024),
    "m": ModelScale(depth=0.67, width=0.75, max_channels=768),
    "l": ModelScale(depth=1.00, width=1.00, max_channels=512),
    "x": ModelScale(depth=1.00, width=1.25, max_channels=512),
}
