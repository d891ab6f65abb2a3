"""Receptive field block of ASFF*: four branches of growing receptive field, no BN.

As in the reference implementation, the convs of a branch follow each other directly: biases,
no BatchNorm and no activation between them (so each branch is linear; the parameter names
`branches.<b>.<k>` then count the convs of branch b one by one, like the reference's).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _branch(in_channels: int, channels: int, kernel_size: int, dilation: int) -> nn.Sequential:
    """1x1 reduce, then (optionally) a k x k conv, then (optionally) a dilated 3x3 conv."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 1)]
    if kernel_size > 1:
        layers.append(nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2))
    if dilation > 1:
        layers.append(nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation))
    return nn.Sequential(*layers)


class RFB(nn.Module):
    """Branches 1x1 | 1x1-3x3 | 1x1-3x3-3x3(d2) | 1x1-5x5-3x3(d3), each channels/4, concatenated.

    Convs carry biases, no BN and no activation, as in the reference; the output keeps the width.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels % 4:
            raise ValueError(f"RFB needs a width divisible by its 4 branches, got {channels}")
        quarter = channels // 4
        self.branches = nn.ModuleList(
            [
                _branch(channels, quarter, kernel_size=1, dilation=1),
                _branch(channels, quarter, kernel_size=3, dilation=1),
                _branch(channels, quarter, kernel_size=3, dilation=2),
                _branch(channels, quarter, kernel_size=5, dilation=3),
            ]
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)
