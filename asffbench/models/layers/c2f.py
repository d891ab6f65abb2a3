"""YOLOv8's CSP block with two convolutions (C2f) and its bottleneck.

C2f(c_in, c_out, n): a 1x1 conv unit to 2 x hidden (hidden = c_out / 2) split in two halves;
each of n bottlenecks takes the last piece; a 1x1 conv unit merges the concatenation of all
2 + n pieces to c_out. The children are named for what they do; the ultralytics layout names
them cv1 (split), m (blocks), cv2 (merge).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from asffbench.models.layers.conv import ConvBNAct


class Bottleneck(nn.Module):
    """Two 3x3 conv units at one width, with a residual add when `shortcut`."""

    def __init__(self, channels: int, shortcut: bool, act: str = "silu") -> None:
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 3, act=act)
        self.conv2 = ConvBNAct(channels, channels, 3, act=act)
        self.shortcut = shortcut

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return x + out if self.shortcut else out


class C2f(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, repeats: int, shortcut: bool, act: str = "silu") -> None:
        super().__init__()
        if repeats < 1:
            raise ValueError(f"C2f needs at least one bottleneck, got {repeats}")
        hidden = out_channels // 2
        self.split = ConvBNAct(in_channels, 2 * hidden, 1, act=act)
        self.blocks = nn.ModuleList([Bottleneck(hidden, shortcut, act) for _ in range(repeats)])
        self.merge = ConvBNAct((2 + repeats) * hidden, out_channels, 1, act=act)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        pieces = list(self.split(x).chunk(2, dim=1))
        for block in self.blocks:
            pieces.append(block(pieces[-1]))
        return self.merge(torch.cat(pieces, dim=1))
