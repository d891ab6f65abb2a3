"""`fusion=none`: the plain YOLOv3 top-down FPN, i.e. no cross-level fusion after the neck."""

from __future__ import annotations

from typing import Optional, Sequence

from torch import Tensor, nn

from asffbench.models.fusion.base import MultiLevelFusion
from asffbench.models.fusion.registry import FUSIONS, FusionInfo, FusionOptions
from asffbench.models.layers import ConvBNAct


class ExpandOnly(nn.Module):
    """YOLOv3's 3x3 conv unit before the head where the width grows (512->1024, 256->512)."""

    def __init__(self, level: int, in_channels: int, out_channels: int, act: str = "leaky") -> None:
        super().__init__()
        self.level = level
        grows = in_channels != out_channels
        self.expand = ConvBNAct(in_channels, out_channels, 3, act=act) if grows else nn.Identity()

    def forward(self, features: Sequence[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        return self.expand(features[self.level]), None


class FPNFusion(MultiLevelFusion):
    """Each level keeps its own neck feature; level 2 (256 -> 256) passes through unchanged."""

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int], act: str = "leaky") -> None:
        pairs = enumerate(zip(in_channels, out_channels))
        super().__init__([ExpandOnly(level, c_in, c_out, act) for level, (c_in, c_out) in pairs], out_channels)


@FUSIONS.register("none", FusionInfo(adaptive=False, uses_upsample=False, uses_compress_c=False))
def build_fpn(
    in_channels: Sequence[int], out_channels: Sequence[int], options: FusionOptions
) -> FPNFusion:
    return FPNFusion(in_channels, out_channels, options.act)
