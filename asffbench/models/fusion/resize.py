"""ASFF's resize stage: bring every level to one level's resolution and width."""

from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from asffbench.models.layers import ConvBNAct

UPSAMPLE_MODES = ("nearest", "bilinear")


class Downsample(nn.Module):
    """x2: a 3x3 stride-2 conv unit; x4: max-pool (3, stride 2, pad 1) then the same conv."""

    def __init__(self, in_channels: int, out_channels: int, factor: int, act: str = "leaky") -> None:
        super().__init__()
        if factor not in (2, 4):
            raise ValueError(f"downsampling factor must be 2 or 4, got {factor}")
        self.pool = nn.MaxPool2d(3, stride=2, padding=1) if factor == 4 else nn.Identity()
        self.conv = ConvBNAct(in_channels, out_channels, 3, stride=2, act=act)

    def forward(self, x: Tensor, size: Sequence[int]) -> Tensor:
        return self.conv(self.pool(x))


class Upsample(nn.Module):
    """A 1x1 conv unit to the target width (skipped when the widths match), then interpolation."""

    def __init__(self, in_channels: int, out_channels: int, mode: str, act: str = "leaky") -> None:
        super().__init__()
        if mode not in UPSAMPLE_MODES:
            raise ValueError(f"upsample mode must be one of {UPSAMPLE_MODES}, got {mode!r}")
        same_width = in_channels == out_channels
        self.compress = nn.Identity() if same_width else ConvBNAct(in_channels, out_channels, 1, act=act)
        self.mode = mode

    def forward(self, x: Tensor, size: Sequence[int]) -> Tensor:
        x = self.compress(x)
        # Interpolating to the target's size (not a scale factor) keeps odd input sizes aligned.
        if self.mode == "nearest":
            return F.interpolate(x, size=tuple(size), mode="nearest")
        return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class Keep(nn.Module):
    """The target level itself passes unchanged."""

    def forward(self, x: Tensor, size: Sequence[int]) -> Tensor:
        return x


class LevelResize(nn.Module):
    """Resizes the three level features (stride 32, 16, 8) to `level`'s size and width."""

    def __init__(self, level: int, in_channels: Sequence[int], upsample: str, act: str = "leaky") -> None:
        super().__init__()
        self.level = level
        target = in_channels[level]
        resizers: list[nn.Module] = []
        for source, channels in enumerate(in_channels):
            if source == level:
                resizers.append(Keep())
            elif source > level:  # a finer level (smaller stride): downsample by 2 or 4
                resizers.append(Downsample(channels, target, factor=2 ** (source - level), act=act))
            else:
                resizers.append(Upsample(channels, target, upsample, act))
        self.resizers = nn.ModuleList(resizers)

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        size = features[self.level].shape[-2:]
        return [resize(x, size) for resize, x in zip(self.resizers, features)]
