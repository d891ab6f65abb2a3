"""The conv unit: Conv2d (no bias) + BatchNorm + LeakyReLU(0.1) (Darknet/YOLOv3), ReLU6 or SiLU
(the YOLOv8 family)."""

from __future__ import annotations

import math

from typing import Callable, Optional

from torch import Tensor, nn

# The unit's activation by name: Darknet-53 models use LeakyReLU(0.1), the reference's
# MobileNetV2 model ReLU6 (its `add_conv(..., leaky=False)`).
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "leaky": lambda: nn.LeakyReLU(0.1, inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    # Not in place: SiLU's gradient needs its input, so autograd would copy it before every
    # in-place call (57 copies per YOLOv8n forward in training, about 5% of it on CPU).
    "silu": lambda: nn.SiLU(),  # the YOLOv8 family's units
}


class ConvBNAct(nn.Module):
    """Conv2d without bias (BN supplies it), BatchNorm2d, the activation `act` (`ACTIVATIONS`);
    'same' padding (`kernel_size // 2`) unless `padding` is given.

    The children are registered conv, bn, act in that order so that BN folding and the darknet
    weight loader can rely on it.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        act: str = "leaky",
        padding: Optional[int] = None,
    ) -> None:
        super().__init__()
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act!r}; choose from {', '.join(ACTIVATIONS)}")
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride,
            padding=kernel_size // 2 if padding is None else padding, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = ACTIVATIONS[act]()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


def scale_channels(channels: int, width: float, divisor: int = 8) -> int:
    """`channels * width` rounded up to a multiple of `divisor` (at least `divisor`).

    Multiples of 8 keep every width divisible by the 4 deformable groups and the 4 RFB branches
    of the head; at width 1 (and 0.25) every Darknet width is already a multiple.
    """
    if width <= 0:
        raise ValueError(f"width multiplier must be positive, got {width}")
    return max(divisor, math.ceil(channels * width / divisor) * divisor)
