"""`fusion=concat`: ASFF's resize stage, concatenated and brought back to the level width by a 1x1 conv."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from asffbench.models.fusion.base import MultiLevelFusion, ResizeFuseLevel
from asffbench.models.fusion.registry import FUSIONS, FusionInfo, FusionOptions
from asffbench.models.layers import ConvBNAct


class ConcatLevel(ResizeFuseLevel):
    def __init__(
        self, level: int, in_channels: Sequence[int], out_channels: int, upsample: str, act: str = "leaky"
    ) -> None:
        super().__init__(level, in_channels, out_channels, upsample, act)
        width = in_channels[level]
        self.reduce = ConvBNAct(3 * width, width, 1, act=act)

    def fuse(self, resized: list[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        return self.reduce(torch.cat(resized, dim=1)), None


class ConcatFusion(MultiLevelFusion):
    def __init__(
        self, in_channels: Sequence[int], out_channels: Sequence[int], upsample: str = "nearest", act: str = "leaky"
    ) -> None:
        levels = [ConcatLevel(level, in_channels, c_out, upsample, act) for level, c_out in enumerate(out_channels)]
        super().__init__(levels, out_channels)


@FUSIONS.register("concat", FusionInfo(adaptive=False, uses_upsample=True, uses_compress_c=False))
def build_concat(
    in_channels: Sequence[int], out_channels: Sequence[int], options: FusionOptions
) -> ConcatFusion:
    return ConcatFusion(in_channels, out_channels, options.upsample, options.act)
