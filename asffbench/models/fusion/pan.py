"""`fusion=pan`: PANet, the neck's top-down (FPN) outputs followed by a bottom-up path.

The bottom-up path starts at the finest level (stride 8, kept as it is); each coarser level
takes the previous bottom-up output through a stride-2 3x3 conv unit to its own width and merges
it with its top-down (lateral) feature: `concat` joins them and brings them back by the merge
block `fusion.pan_block` names (pan_blocks.py: YOLOv4's five units, YOLOv5's C3, or three
units), `sum` adds them and applies one 3x3 conv unit (the original PANet). The levels then
widen to the head widths as the baseline does.
That is the `conv` form of the steps, the YOLOv3 family's; the YOLOv8 family's own PAFPN steps
(`c2f`, pan_c2f.py) are chosen by `FusionOptions.bottom_up` (`BOTTOM_UP_FORMS`).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from asffbench.models.fusion.base import FusionResult, bottom_up
from asffbench.models.fusion.fpn import FPNFusion
from asffbench.models.fusion.pan_blocks import pan_block
from asffbench.models.fusion.pan_c2f import C2fBottomUpPath
from asffbench.models.fusion.registry import FUSIONS, FusionInfo, FusionOptions
from asffbench.models.layers import ConvBNAct

PAN_MERGES = ("concat", "sum")
BOTTOM_UP_FORMS = ("conv", "c2f")


class BottomUpStep(nn.Module):
    """Downsample the finer bottom-up output to this level and merge it with the lateral."""

    def __init__(self, finer_channels: int, channels: int, merge: str, act: str = "leaky",
                 block: str = "light", csp_repeats: int = 3) -> None:
        super().__init__()
        if merge not in PAN_MERGES:
            raise ValueError(f"pan merge must be one of {PAN_MERGES}, got {merge!r}")
        self.merge = merge
        self.down = ConvBNAct(finer_channels, channels, 3, stride=2, act=act)
        # PANet's own sum has one 3x3 unit; a concat is brought back by the named merge block.
        self.fuse = (pan_block(block, channels, act, csp_repeats) if merge == "concat"
                     else ConvBNAct(channels, channels, 3, act=act))

    def forward(self, finer: Tensor, lateral: Tensor) -> Tensor:
        down = self.down(finer)
        merged = torch.cat([down, lateral], dim=1) if self.merge == "concat" else down + lateral
        return self.fuse(merged)


class BottomUpPath(nn.Module):
    """PANet's bottom-up augmentation over level features ordered stride 32, 16, 8; the widths
    stay the inputs' (so another fusion, e.g. ASFF, can follow it)."""

    def __init__(self, in_channels: Sequence[int], merge: str, act: str = "leaky",
                 block: str = "light", csp_repeats: int = 3) -> None:
        super().__init__()
        self.out_channels: tuple[int, ...] = tuple(in_channels)
        # steps[i] makes level len - 2 - i from level len - 1 - i: stride 16 first, then 32.
        coarser = range(len(in_channels) - 2, -1, -1)
        self.steps = nn.ModuleList([
            BottomUpStep(in_channels[level + 1], in_channels[level], merge, act, block, csp_repeats)
            for level in coarser])

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        return bottom_up(self.steps, features)


def bottom_up_path(in_channels: Sequence[int], options: FusionOptions) -> nn.Module:
    """The bottom-up path of `options.bottom_up`'s form; ValueError for an unknown form or a
    merge the form has not (the `c2f` form concatenates)."""
    if options.bottom_up == "conv":
        return BottomUpPath(in_channels, options.pan_merge, options.added_act, options.pan_block, options.csp_repeats)
    if options.bottom_up != "c2f":
        raise ValueError(f"bottom-up form must be one of {BOTTOM_UP_FORMS}, got {options.bottom_up!r}")
    if options.pan_merge != "concat":
        raise ValueError(f"pan merge {options.pan_merge!r}: the c2f bottom-up path (YOLOv8's PAFPN) concatenates")
    return C2fBottomUpPath(in_channels, options.c2f_repeats, options.added_act)


class PANFusion(nn.Module):
    """The bottom-up path (given, or the `conv` form with `merge`), then the baseline's widening
    3x3 conv units (none where widths match)."""

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: Sequence[int],
        merge: str = "concat",
        path: Optional[nn.Module] = None,
        act: str = "leaky",
    ) -> None:
        super().__init__()
        self.path = BottomUpPath(in_channels, merge) if path is None else path
        self.expand = FPNFusion(self.path.out_channels, out_channels, act)
        self.out_channels: tuple[int, ...] = tuple(out_channels)

    def forward(self, features: Sequence[Tensor], return_weights: bool = False) -> FusionResult:
        outputs, _ = self.expand(self.path(features))
        return outputs, None


@FUSIONS.register("pan", FusionInfo(adaptive=False, uses_upsample=False, uses_compress_c=False,
                                    uses_pan_merge=True, uses_added_act=True, uses_pan_block=True))
def build_pan(
    in_channels: Sequence[int], out_channels: Sequence[int], options: FusionOptions
) -> PANFusion:
    return PANFusion(in_channels, out_channels, path=bottom_up_path(in_channels, options), act=options.added_act)
