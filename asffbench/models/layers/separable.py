"""EfficientDet's node conv: a depthwise 3x3 and a pointwise 1x1 conv, then BatchNorm, with no
activation after it (BiFPN applies its activation before the conv, on the fused sum)."""

from __future__ import annotations

from torch import Tensor, nn


class SeparableConvBN(nn.Module):
    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2,
                                   groups=channels, bias=False)
        # EfficientDet's pointwise conv has a bias; the BatchNorm after it makes it redundant.
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.pointwise(self.depthwise(x)))
