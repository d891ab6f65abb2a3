"""YOLOv5's CSP bottleneck with three convolutions (C3), the merge block of its PAN.

C3(c_in, c_out, n): two 1x1 conv units from the input to hidden = c_out / 2 each; one of them
goes through n bottlenecks (1x1 then 3x3 unit at the hidden width, no residual add in a PAN);
the two halves are concatenated and a 1x1 conv unit brings them to c_out.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from asffbench.models.layers.conv import ConvBNAct


class PointBottleneck(nn.Module):
    """A 1x1 then a 3x3 conv unit at one width, with a residual add when `shortcut`."""

    def __init__(self, channels: int, shortcut: bool, act: str) -> None:
        super().__init__()
        self.reduce = ConvBNAct(channels, channels, 1, act=act)
        self.conv = ConvBNAct(channels, channels, 3, act=act)
        self.shortcut = shortcut

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(self.reduce(x))
        return x + out if self.shortcut else out


class C3(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, repeats: int, shortcut: bool, act: str) -> None:
        super().__init__()
        if repeats < 1:
            raise ValueError(f"C3 needs at least one bottleneck, got {repeats}")
        hidden = out_channels // 2
        self.main = ConvBNAct(in_channels, hidden, 1, act=act)
        self.side = ConvBNAct(in_channels, hidden, 1, act=act)
        self.blocks = nn.Sequential(*[PointBottleneck(hidden, shortcut, act) for _ in range(repeats)])
        self.merge = ConvBNAct(2 * hidden, out_channels, 1, act=act)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        return self.merge(torch.cat([self.blocks(self.main(x)), self.side(x)], dim=1))
