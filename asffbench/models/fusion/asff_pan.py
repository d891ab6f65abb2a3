"""`fusion=asff_pan`: ASFF applied to the outputs of a PAN (as YOLOX-PAI does).

The neck's top-down features go through PANet's bottom-up path (`fusion.pan_merge`,
`fusion.pan_block`: YOLOX's CSP layers as published), whose outputs keep the neck's widths;
ASFF (`fusion.asff_block`: YOLOX-PAI's as published, `fusion.compress_c`, `fusion.upsample`)
then fuses them per pixel and widens them to the head widths. Its weights are ASFF's:
(B, 3, H, W) per level. On the YOLOv8 family the path is its own PAFPN's (`FusionOptions.bottom_up`).
"""

from __future__ import annotations

from typing import Optional, Sequence

from torch import Tensor, nn

from asffbench.models.fusion.asff import ASFF
from asffbench.models.fusion.base import FusionResult
from asffbench.models.fusion.pan import BottomUpPath, bottom_up_path
from asffbench.models.fusion.registry import FUSIONS, FusionInfo, FusionOptions


class ASFFOnPAN(nn.Module):
    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: Sequence[int],
        merge: str = "concat",
        compress_c: int = 16,
        upsample: str = "nearest",
        path: Optional[nn.Module] = None,
        act: str = "leaky",
        block: str = "original",
    ) -> None:
        super().__init__()
        self.path = BottomUpPath(in_channels, merge) if path is None else path
        self.asff = ASFF(self.path.out_channels, out_channels, compress_c, upsample, act, block)
        self.out_channels: tuple[int, ...] = tuple(out_channels)

    def forward(self, features: Sequence[Tensor], return_weights: bool = False) -> FusionResult:
        return self.asff(self.path(features), return_weights=return_weights)


# As published (YOLOX-PAI): a CSP PAN, and ASFF with 2-channel weight branches.
@FUSIONS.register("asff_pan", FusionInfo(adaptive=True, uses_upsample=True, uses_compress_c=True,
                                         uses_pan_merge=True, uses_added_act=True, default_compress_c=2,
                                         uses_pan_block=True, default_pan_block="csp",
                                         uses_asff_block=True, default_asff_block="yolox_pai"))
def build_asff_pan(
    in_channels: Sequence[int], out_channels: Sequence[int], options: FusionOptions
) -> ASFFOnPAN:
    return ASFFOnPAN(in_channels, out_channels, options.pan_merge, options.compress_c, options.upsample,
                     path=bottom_up_path(in_channels, options), act=options.added_act, block=options.asff_block)
