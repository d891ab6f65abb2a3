"""`fusion=afpn`: the asymptotic feature pyramid (AFPN, arXiv 2306.15988), a whole neck.

It takes the backbone's taps (its `FusionInfo.replaces_neck`: the family's neck is left out),
ordered stride 32, 16, 8 like every fusion's levels:
- entry: a 1x1 conv unit per level to a quarter of its width;
- stage 1, the two finest levels: each is the adaptive fusion (ASFF-style per-pixel softmax
  over its inputs) of itself and the other brought to its size, then 3 residual blocks;
- stage 2, all three levels: likewise over three inputs, then 3 residual blocks;
- exit: a 1x1 conv unit per level to its head width.
Resizing inside the fusions: up = a 1x1 conv unit to the target width then bilinear
interpolation, down x2 / x4 = a conv unit with kernel and stride 2 / 4. Its weights (B, 3, H, W)
per level are stage 2's, inputs in level order (stride 32, 16, 8) as ASFF's are.
The residual blocks' convs have no bias here (BN follows them); the paper's code has one.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asffbench.models.fusion.base import FusionResult
from asffbench.models.fusion.registry import FUSIONS, FusionInfo, FusionOptions
from asffbench.models.layers import ACTIVATIONS, ConvBNAct

STAGE_BLOCKS = 3  # residual blocks after each fusion stage


class ResidualPair(nn.Module):
    """Two 3x3 conv units, the second without activation, a residual add, then the activation."""

    def __init__(self, channels: int, act: str) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 3, act=act)
        self.conv2 = ConvBNAct(channels, channels, 3, act=act)
        self.conv2.act = nn.Identity()
        self.act = ACTIVATIONS[act]()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x + self.conv2(self.conv1(x)))


def residual_stage(channels: int, act: str) -> nn.Sequential:
    return nn.Sequential(*[ResidualPair(channels, act) for _ in range(STAGE_BLOCKS)])


class Resize(nn.Module):
    """Level `source` to level `target`'s size and width (levels: index 0 = stride 32)."""

    def __init__(self, source: int, target: int, channels: Sequence[int], act: str) -> None:
        super().__init__()
        factor = 2 ** abs(source - target)
        if source > target:  # a finer level: strided conv
            self.conv = ConvBNAct(channels[source], channels[target], factor, stride=factor, act=act, padding=0)
            self.up = False
        else:
            self.conv = ConvBNAct(channels[source], channels[target], 1, act=act)
            self.up = True

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        x = self.conv(x)
        if self.up:
            x = F.interpolate(x, size=target.shape[-2:], mode="bilinear", align_corners=False)
        return x


class AdaptiveFusion(nn.Module):
    """ASFF's weighting over `inputs` same-shaped maps: per-input 1x1 units to `compress_c`, a 1x1
    conv to one logit per input, softmax over inputs per pixel; the weighted sum, a 3x3 unit."""

    def __init__(self, channels: int, inputs: int, compress_c: int, act: str) -> None:
        super().__init__()
        self.weight_convs = nn.ModuleList([ConvBNAct(channels, compress_c, 1, act=act) for _ in range(inputs)])
        self.weight_logits = nn.Conv2d(inputs * compress_c, inputs, 1, bias=True)
        self.expand = ConvBNAct(channels, channels, 3, act=act)

    def forward(self, maps: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        compressed = [conv(x) for conv, x in zip(self.weight_convs, maps)]
        weights = self.weight_logits(torch.cat(compressed, dim=1)).softmax(dim=1)
        fused = sum(x * weights[:, i:i + 1] for i, x in enumerate(maps))
        return self.expand(fused), weights


class FusionStage(nn.Module):
    """Fuses levels `levels` (indices into the level list) with one another, each followed by
    its residual blocks; the other levels pass unchanged."""

    def __init__(self, levels: Sequence[int], channels: Sequence[int], compress_c: int, act: str) -> None:
        super().__init__()
        self.levels = tuple(levels)
        self.resizes = nn.ModuleDict({
            f"{source}to{target}": Resize(source, target, channels, act)
            for target in levels for source in levels if source != target
        })
        self.fusions = nn.ModuleList([AdaptiveFusion(channels[t], len(levels), compress_c, act) for t in levels])
        self.blocks = nn.ModuleList([residual_stage(channels[t], act) for t in levels])

    def forward(self, features: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        outputs, weights = list(features), []
        for target, fusion, blocks in zip(self.levels, self.fusions, self.blocks):
            maps = [features[s] if s == target else self.resizes[f"{s}to{target}"](features[s], features[target])
                    for s in self.levels]
            fused, level_weights = fusion(maps)
            outputs[target] = blocks(fused)
            weights.append(level_weights)
        return outputs, weights


class AFPN(nn.Module):
    def __init__(
        self, in_channels: Sequence[int], out_channels: Sequence[int], compress_c: int = 8, act: str = "leaky"
    ) -> None:
        super().__init__()
        if len(in_channels) != 3:
            raise ValueError(f"AFPN takes 3 levels, got {len(in_channels)}")
        inner = [max(8, c // 4) for c in in_channels]
        self.entry = nn.ModuleList([ConvBNAct(c, w, 1, act=act) for c, w in zip(in_channels, inner)])
        self.stage1 = FusionStage((1, 2), inner, compress_c, act)  # strides 16 and 8
        self.stage2 = FusionStage((0, 1, 2), inner, compress_c, act)
        self.exit = nn.ModuleList([ConvBNAct(w, c, 1, act=act) for w, c in zip(inner, out_channels)])
        self.out_channels: tuple[int, ...] = tuple(out_channels)

    def forward(self, features: Sequence[Tensor], return_weights: bool = False) -> FusionResult:
        levels = [entry(x) for entry, x in zip(self.entry, features)]
        levels, _ = self.stage1(levels)
        levels, weights = self.stage2(levels)
        outputs = [conv(x) for conv, x in zip(self.exit, levels)]
        return outputs, (weights if return_weights else None)


@FUSIONS.register("afpn", FusionInfo(adaptive=True, uses_upsample=False, uses_compress_c=True,
                                     default_compress_c=8, replaces_neck=True, uses_added_act=True))
def build_afpn(in_channels: Sequence[int], out_channels: Sequence[int], options: FusionOptions) -> AFPN:
    return AFPN(in_channels, out_channels, options.compress_c, options.added_act)
