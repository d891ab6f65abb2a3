"""The bottom-up half of YOLOv8's PAFPN (`fusion=pan` on the YOLOv8 family).

From the finest level (stride 8, kept as it is) up: a 3x3 stride-2 conv unit keeps the finer
width, the result is concatenated with the level's top-down feature (down first), and a C2f
without shortcut brings it to that level's width. `steps[0]` (stride 16) is modules 16 (down)
and 18 (merge) of the ultralytics layout, `steps[1]` (stride 32) modules 19 and 21.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from asffbench.models.fusion.base import bottom_up
from asffbench.models.layers import C2f, ConvBNAct


class C2fBottomUpStep(nn.Module):
    def __init__(self, finer_channels: int, channels: int, repeats: int, act: str) -> None:
        super().__init__()
        self.down = ConvBNAct(finer_channels, finer_channels, 3, stride=2, act=act)
        self.merge = C2f(finer_channels + channels, channels, repeats, shortcut=False, act=act)

    def forward(self, finer: Tensor, lateral: Tensor) -> Tensor:
        return self.merge(torch.cat([self.down(finer), lateral], dim=1))


class C2fBottomUpPath(nn.Module):
    """Over level features ordered stride 32, 16, 8; the widths stay the inputs'."""

    def __init__(self, in_channels: Sequence[int], repeats: int, act: str = "silu") -> None:
        super().__init__()
        self.out_channels: tuple[int, ...] = tuple(in_channels)
        coarser = range(len(in_channels) - 2, -1, -1)  # stride 16 first, then 32
        self.steps = nn.ModuleList([C2fBottomUpStep(in_channels[level + 1], in_channels[level], repeats, act)
                                    for level in coarser])

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        return bottom_up(self.steps, features)
