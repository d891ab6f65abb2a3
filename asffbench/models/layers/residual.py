"""Darknet's residual block: a 1x1 conv halving the width, a 3x3 conv back, identity add."""

from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from asffbench.models.layers.conv import ConvBNAct


class ResidualBlock(nn.Module):
    """1x1 conv to channels/2, 3x3 conv to channels, plus the input when `shortcut`.

    The YOLOv3 neck uses the same pair of convs without the shortcut; the reference's MobileNetV2
    neck (its `ressepblock`) with other widths: `hidden` and `out_channels` (default channels/2
    and channels) set them, a shortcut needs out_channels == channels.
    """

    def __init__(
        self,
        channels: int,
        shortcut: bool = True,
        hidden: Optional[int] = None,
        out_channels: Optional[int] = None,
        act: str = "leaky",
    ) -> None:
        super().__init__()
        hidden = channels // 2 if hidden is None else hidden
        out_channels = channels if out_channels is None else out_channels
        if shortcut and out_channels != channels:
            raise ValueError(f"a shortcut needs out_channels == channels, got {out_channels} != {channels}")
        self.conv1 = ConvBNAct(channels, hidden, 1, act=act)
        self.conv2 = ConvBNAct(hidden, out_channels, 3, act=act)
        self.shortcut = shortcut

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return x + out if self.shortcut else out
