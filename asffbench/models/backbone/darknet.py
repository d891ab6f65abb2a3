"""Darknet-53, the YOLOv3 backbone, with width and depth multipliers."""

from __future__ import annotations

from torch import Tensor, nn

from asffbench.models.backbone.taps import tapped_outputs
from asffbench.models.layers import ConvBNAct, ResidualBlock, scale_channels

# (output width, residual blocks) of the five stride-2 stages at width 1 / depth 1.
DARKNET53_STAGES: tuple[tuple[int, int], ...] = ((64, 1), (128, 2), (256, 8), (512, 8), (1024, 4))
STEM_WIDTH = 32
TAP_STAGES = (2, 3, 4)  # the stride 8, 16 and 32 stages


class DarknetStage(nn.Module):
    """A 3x3 stride-2 conv unit followed by residual blocks."""

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int) -> None:
        super().__init__()
        self.down = ConvBNAct(in_channels, out_channels, 3, stride=2)
        self.blocks = nn.Sequential(*[ResidualBlock(out_channels) for _ in range(num_blocks)])

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.down(x))


class Darknet53(nn.Module):
    """Stem (3x3 conv, 32) and five stages; returns the stride 8, 16 and 32 taps (in that order).

    Channels are scaled by `width`, blocks per stage are max(1, round(n * depth)). At width 1 and
    depth 1 this is the exact Darknet-53 layout: 1 + 5 + 2 x (1+2+8+8+4) = 52 conv units, in the
    order the darknet weight files store them (module registration order = forward order).
    """

    strides = (8, 16, 32)

    def __init__(self, width: float = 1.0, depth: float = 1.0) -> None:
        super().__init__()
        if depth <= 0:
            raise ValueError(f"depth multiplier must be positive, got {depth}")
        stem_channels = scale_channels(STEM_WIDTH, width)
        self.stem = ConvBNAct(3, stem_channels, 3)
        stages = []
        in_channels = stem_channels
        for base_channels, base_blocks in DARKNET53_STAGES:
            out_channels = scale_channels(base_channels, width)
            stages.append(DarknetStage(in_channels, out_channels, max(1, round(base_blocks * depth))))
            in_channels = out_channels
        self.stages = nn.ModuleList(stages)
        # Widths of the three taps (stride 8, 16, 32).
        self.out_channels: tuple[int, ...] = tuple(
            scale_channels(DARKNET53_STAGES[i][0], width) for i in TAP_STAGES
        )

    def forward(self, images: Tensor) -> list[Tensor]:
        return tapped_outputs(self.stages, self.stem(images), TAP_STAGES)
