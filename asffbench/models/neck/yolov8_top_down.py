"""The YOLOv8 neck's top-down path (the FPN half of its PAFPN).

Takes the backbone taps (stride 8, 16, 32) and returns level features ordered stride 32, 16, 8:
P5 (the SPPF output, unchanged), N4 = C2f(cat(up(P5), P4)) and N3 = C2f(cat(up(N4), P3)), the
C2f blocks without shortcut, upsampling nearest x2. The bottom-up half is a fusion
(`fusion=pan` on this family), so every fusion of the axis sees the same top-down levels.
`blocks[0]` and `blocks[1]` are modules 12 and 15 of the ultralytics layout.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asffbench.models.layers import C2f
from asffbench.models.scaling import ModelScale

TOP_DOWN_WIDTHS = (512, 256)  # N4, N3 at scale 1
TOP_DOWN_REPEATS = 3  # C2f repeats at depth 1


class YOLOv8TopDown(nn.Module):
    def __init__(self, in_channels: Sequence[int], scale: ModelScale, act: str = "silu") -> None:
        super().__init__()
        c3, c4, c5 = in_channels
        n4, n3 = (scale.channels(c) for c in TOP_DOWN_WIDTHS)
        repeats = scale.repeats(TOP_DOWN_REPEATS)
        self.blocks = nn.ModuleList([
            C2f(c5 + c4, n4, repeats, shortcut=False, act=act),
            C2f(n4 + c3, n3, repeats, shortcut=False, act=act),
        ])
        self.out_channels: tuple[int, ...] = (c5, n4, n3)

    @staticmethod
    def up(x: Tensor, lateral: Tensor) -> Tensor:
        # Sizing by the lateral (not scale_factor=2) keeps odd input sizes working.
        return F.interpolate(x, size=lateral.shape[-2:], mode="nearest")

    def forward(self, taps: Sequence[Tensor]) -> list[Tensor]:
        p3, p4, p5 = taps
        n4 = self.blocks[0](torch.cat([self.up(p5, p4), p4], dim=1))
        n3 = self.blocks[1](torch.cat([self.up(n4, p3), p3], dim=1))
        return [p5, n4, n3]


class TapsAsLevels(nn.Module):
    """No neck: the backbone taps as levels (stride 32, 16, 8), for a fusion that is a whole neck
    itself (`FusionInfo.replaces_neck`, e.g. AFPN)."""

    def __init__(self, in_channels: Sequence[int]) -> None:
        super().__init__()
        self.out_channels: tuple[int, ...] = tuple(reversed(tuple(in_channels)))

    def forward(self, taps: Sequence[Tensor]) -> list[Tensor]:
        return list(reversed(list(taps)))
