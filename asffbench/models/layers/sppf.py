"""SPPF: spatial pyramid pooling, fast (YOLOv5/YOLOv8), the form YOLOv8 uses.

A 1x1 conv unit halves the width (activated, YOLOv8's form), three chained k x k stride-1 max
pools (5, 9 and 13 receptive fields at k = 5), the four maps concatenated, a 1x1 conv unit to
`out_channels`. The ultralytics layout names reduce cv1 and merge cv2.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from asffbench.models.layers.conv import ConvBNAct


class SPPF(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, act: str = "silu") -> None:
        super().__init__()
        hidden = in_channels // 2
        self.reduce = ConvBNAct(in_channels, hidden, 1, act=act)
        self.pool = nn.MaxPool2d(kernel_size, stride=1, padding=kernel_size // 2)
        self.merge = ConvBNAct(4 * hidden, out_channels, 1, act=act)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        pieces = [self.reduce(x)]
        for _ in range(3):
            pieces.append(self.pool(pieces[-1]))
        return self.merge(torch.cat(pieces, dim=1))
