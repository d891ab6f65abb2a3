"""`fusion=sum`: ASFF's resize stage, fused by an element-wise sum (the paper's comparison)."""

from __future__ import annotations

from typing import Optional, Sequence

from torch import Tensor

from asffbench.models.fusion.base import MultiLevelFusion, ResizeFuseLevel
from asffbench.models.fusion.registry import FUSIONS, FusionInfo, FusionOptions


class SumLevel(ResizeFuseLevel):
    def fuse(self, resized: list[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        return resized[0] + resized[1] + resized[2], None


class SumFusion(MultiLevelFusion):
    def __init__(
        self, in_channels: Sequence[int], out_channels: Sequence[int], upsample: str = "nearest", act: str = "leaky"
    ) -> None:
        levels = [SumLevel(level, in_channels, c_out, upsample, act) for level, c_out in enumerate(out_channels)]
        super().__init__(levels, out_channels)


@FUSIONS.register("sum", FusionInfo(adaptive=False, uses_upsample=True, uses_compress_c=False))
def build_sum(
    in_channels: Sequence[int], out_channels: Sequence[int], options: FusionOptions
) -> SumFusion:
    return SumFusion(in_channels, out_channels, options.upsample, options.act)
