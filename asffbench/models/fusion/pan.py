"""`fusion=pan`: PANet, the neck's top-down (FPN) outputs followed by a bottom-up path.

The bottom-up path starts at the finest level (stride 8, kept as it is); each coarser level
takes the previous bottom-up output through a stride-2 3x3 conv unit to its own width and merges
it with its top-down (lateral) feature: `concat` joins them and brings them back by three conv
units (1x1, 3x3, 1x1, the YOLOv4/YOLOv5 neck pattern), `sum` adds them and applies one 3x3 conv
unit (the original PANet). The levels then widen to the head widths as the baseline does.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from asffbench.models.fusion.base import FusionResult
from asffbench.models.fusion.fpn import FPNFusion
from asffbench.models.fusion.registry import FUSIONS, FusionInfo, FusionOptions
from asffbench.models.layers import ConvBNAct

PAN_MERGES = ("concat", "sum")


class BottomUpStep(nn.Module):
    """Downsample the finer bottom-up output to this level and merge it with the lateral."""

    def __init__(self, finer_channels: int, channels: int, merge: str) -> None:
        super().__init__()
        if merge not in PAN_MERGES:
            raise ValueError(f"pan merge must be one of {PAN_MERGES}, got {merge!r}")
        self.merge = merge
        self.down = ConvBNAct(finer_channels, channels, 3, stride=2)
        if merge == "concat":
            self.fuse: nn.Module = nn.Sequential(
                ConvBNAct(2 * channels, channels, 1),
                ConvBNAct(channels, 2 * channels, 3),
                ConvBNAct(2 * channels, channels, 1),
            )
        else:
            self.fuse = ConvBNAct(channels, channels, 3)

    def forward(self, finer: Tensor, lateral: Tensor) -> Tensor:
        down = self.down(finer)
        merged = torch.cat([down, lateral], dim=1) if self.merge == "concat" else down + lateral
        return self.fuse(merged)


class BottomUpPath(nn.Module):
    """PANet's bottom-up augmentation over level features ordered stride 32, 16, 8; the widths
    stay the inputs' (so another fusion, e.g. ASFF, can follow it)."""

    def __init__(self, in_channels: Sequence[int], merge: str) -> None:
        super().__init__()
        self.out_channels: tuple[int, ...] = tuple(in_channels)
        # steps[i] makes level len - 2 - i from level len - 1 - i: stride 16 first, then 32.
        coarser = range(len(in_channels) - 2, -1, -1)
        self.steps = nn.ModuleList([BottomUpStep(in_channels[level + 1], in_channels[level], merge)
                                    for level in coarser])

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        outputs = list(features)
        for step, level in zip(self.steps, range(len(features) - 2, -1, -1)):
            outputs[level] = step(outputs[level + 1], features[level])
        return outputs


class PANFusion(nn.Module):
    """The bottom-up path, then the baseline's widening 3x3 conv units (none where widths match)."""

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int], merge: str = "concat") -> None:
        super().__init__()
        self.path = BottomUpPath(in_channels, merge)
        self.expand = FPNFusion(in_channels, out_channels)
        self.out_channels: tuple[int, ...] = tuple(out_channels)

    def forward(self, features: Sequence[Tensor], return_weights: bool = False) -> FusionResult:
        outputs, _ = self.expand(self.path(features))
        return outputs, None


@FUSIONS.register("pan", FusionInfo(adaptive=False, uses_upsample=False, uses_compress_c=False,
                                    uses_pan_merge=True))
def build_pan(
    in_channels: Sequence[int], out_channels: Sequence[int], options: FusionOptions
) -> PANFusion:
    return PANFusion(in_channels, out_channels, options.pan_merge)
