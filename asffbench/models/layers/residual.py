"""Darknet's residual block: a 1x1 conv halving the width, a 3x3 conv back, identity add."""

from __future__ import annotations

from torch import Tensor, nn

from asffbench.models.layers.conv import ConvBNAct


class ResidualBlock(nn.Module):
    """1x1 conv to channels/2, 3x3 conv to channels, plus the input when `shortcut`.

    The YOLOv3 neck uses the same pair of convs without the shortcut.
    """

    def __init__(self, channels: int, shortcut: bool = True) -> None:
        super().__init__()
        hidden = channels // 2
        self.conv1 = ConvBNAct(channels, hidden, 1)
        self.conv2 = ConvBNAct(hidden, channels, 3)
        self.shortcut = shortcut

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return x + out if self.shortcut else out
