"""`fusion=asff|asff_star`: adaptively spatial feature fusion.

Per level, every resized map gets its own 1x1 conv unit to `compress_c` channels; the three are
concatenated and a 1x1 conv with bias (no BN) gives 3 logits whose softmax over levels weights
the sum of the resized maps at every pixel (shared across channels), followed by the expand conv.
That is the `original` block (`ASFF_BLOCKS`); YOLOX-PAI's (`yolox_pai`, alibaba/EasyCV) makes the
logits by a conv unit (BN and the activation before the softmax) and uses 2-channel branches
(`compress_c`, set by its preset). Its expand is a 3x3 at the inner width there, because its PAN
already has the head widths; here the expand goes to the head widths (the same unit where they match).
ASFF* uses the same fusion; its RFB (head) and DropBlock (neck) are switched on by the builder.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from asffbench.models.fusion.base import MultiLevelFusion, ResizeFuseLevel
from asffbench.models.fusion.registry import FUSIONS, FusionInfo, FusionOptions
from asffbench.models.layers import ConvBNAct


ASFF_BLOCKS = ("original", "yolox_pai")


class ASFFLevel(ResizeFuseLevel):
    def __init__(
        self,
        level: int,
        in_channels: Sequence[int],
        out_channels: int,
        compress_c: int,
        upsample: str,
        act: str = "leaky",
        block: str = "original",
    ) -> None:
        super().__init__(level, in_channels, out_channels, upsample, act)
        if compress_c < 1:
            raise ValueError(f"compress_c must be positive, got {compress_c}")
        if block not in ASFF_BLOCKS:
            raise ValueError(f"asff block must be one of {ASFF_BLOCKS}, got {block!r}")
        width = in_channels[level]
        self.weight_convs = nn.ModuleList([ConvBNAct(width, compress_c, 1, act=act) for _ in range(3)])
        self.weight_logits: nn.Module = (nn.Conv2d(3 * compress_c, 3, 1, bias=True) if block == "original"
                                         else ConvBNAct(3 * compress_c, 3, 1, act=act))

    def fuse(self, resized: list[Tensor]) -> tuple[Tensor, Tensor]:
        compressed = [conv(x) for conv, x in zip(self.weight_convs, resized)]
        weights = self.weight_logits(torch.cat(compressed, dim=1)).softmax(dim=1)  # (B, 3, H, W)
        fused = (
            resized[0] * weights[:, 0:1] + resized[1] * weights[:, 1:2] + resized[2] * weights[:, 2:3]
        )
        return fused, weights


class ASFF(MultiLevelFusion):
    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: Sequence[int],
        compress_c: int = 16,
        upsample: str = "nearest",
        act: str = "leaky",
        block: str = "original",
    ) -> None:
        levels = [
            ASFFLevel(level, in_channels, c_out, compress_c, upsample, act, block)
            for level, c_out in enumerate(out_channels)
        ]
        super().__init__(levels, out_channels)


# ASFF* is the same fusion; `enhanced` tells the model builder to add its RFB and DropBlock.
@FUSIONS.register(
    "asff_star",
    FusionInfo(adaptive=True, uses_upsample=True, uses_compress_c=True, enhanced=True, default_compress_c=8,
               uses_asff_block=True),
)
@FUSIONS.register("asff", FusionInfo(adaptive=True, uses_upsample=True, uses_compress_c=True, uses_asff_block=True))
def build_asff(
    in_channels: Sequence[int], out_channels: Sequence[int], options: FusionOptions
) -> ASFF:
    return ASFF(in_channels, out_channels, options.compress_c, options.upsample, options.act, options.asff_block)
