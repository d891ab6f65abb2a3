"""The neck registry of the YOLOv8 family (`BackboneInfo.neck` names the entry).

A builder takes (the backbone taps' widths, stride 8, 16, 32; the `ModelScale`; the activation)
and returns a module mapping the taps to level features ordered stride 32, 16, 8, with their
widths as `out_channels`. YOLOv3's neck is built by its own builder (build.py).
"""

from __future__ import annotations

from typing import Sequence

from asffbench.models.neck.yolov8_top_down import YOLOv8TopDown
from asffbench.models.registry import Registry
from asffbench.models.scaling import ModelScale

NECKS = Registry("neck")


@NECKS.register("yolov8_top_down")
def build_yolov8_top_down(in_channels: Sequence[int], scale: ModelScale, act: str) -> YOLOv8TopDown:
    return YOLOv8TopDown(in_channels, scale, act)
