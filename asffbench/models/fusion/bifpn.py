"""`fusion=bifpn`: EfficientDet's BiFPN over the neck's three levels (stride 32, 16, 8).

All nodes work at one common width (`channels`): 1x1 conv units bring the neck levels to it
where they differ, so every node is a weighted sum of same-shaped maps (`WeightedSum`) followed
by a 3x3 conv unit, with no projection on any edge. One layer, levels 0 (stride 32) to 2 (8):

    td16  = node(in16, up(in32))               top-down
    out8  = node(in8, up(td16))
    out16 = node(in16, td16, down(out8))       bottom-up, with the same-level skip
    out32 = node(in32, down(out16))

Up is interpolation to the target's size (`upsample`), down EfficientDet's 3x3 stride-2 max
pool. Layers repeat `layers` times; the outputs then widen to the head widths as the baseline's
do (3x3 conv units, none where the widths already match).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from asffbench.models.fusion.base import FusionResult
from asffbench.models.fusion.fpn import FPNFusion
from asffbench.models.fusion.registry import FUSIONS, FusionInfo, FusionOptions
from asffbench.models.fusion.resize import Upsample
from asffbench.models.fusion.weighted_sum import WeightedSum
from asffbench.models.layers import ConvBNAct

STRIDES = (32, 16, 8)  # the fusion contract's level order; names the nodes and edges
EdgeWeights = dict[str, dict[str, float]]  # node -> {input edge: normalised weight}


class BiFPNNode(nn.Module):
    def __init__(self, sources: Sequence[str], channels: int, weighting: str, act: str = "leaky") -> None:
        super().__init__()
        self.sources = tuple(sources)  # names of the input edges, in input order
        self.combine = WeightedSum(len(sources), weighting)
        self.conv = ConvBNAct(channels, channels, 3, act=act)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        return self.conv(self.combine(inputs))

    def edge_weights(self) -> Optional[dict[str, float]]:
        weights = self.combine.normalised_weights()
        if weights is None:
            return None
        return dict(zip(self.sources, weights.detach().cpu().tolist()))


class BiFPNLayer(nn.Module):
    """One bidirectional pass over three same-width levels."""

    def __init__(self, channels: int, weighting: str, upsample: str, act: str = "leaky") -> None:
        super().__init__()
        self.upsample = Upsample(channels, channels, upsample)  # same width: interpolation only
        s32, s16, s8 = STRIDES
        self.nodes = nn.ModuleDict({
            f"td{s16}": BiFPNNode([f"in{s16}", f"in{s32}"], channels, weighting, act),
            f"out{s8}": BiFPNNode([f"in{s8}", f"td{s16}"], channels, weighting, act),
            f"out{s16}": BiFPNNode([f"in{s16}", f"td{s16}", f"out{s8}"], channels, weighting, act),
            f"out{s32}": BiFPNNode([f"in{s32}", f"out{s16}"], channels, weighting, act),
        })

    def up(self, x: Tensor, target: Tensor) -> Tensor:
        return self.upsample(x, target.shape[-2:])

    @staticmethod
    def down(x: Tensor) -> Tensor:
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)

    def forward(self, features: Sequence[Tensor]) -> list[Tensor]:
        in32, in16, in8 = features
        s32, s16, s8 = STRIDES
        td16 = self.nodes[f"td{s16}"]([in16, self.up(in32, in16)])
        out8 = self.nodes[f"out{s8}"]([in8, self.up(td16, in8)])
        out16 = self.nodes[f"out{s16}"]([in16, td16, self.down(out8)])
        out32 = self.nodes[f"out{s32}"]([in32, self.down(out16)])
        return [out32, out16, out8]

    def edge_weights(self) -> Optional[EdgeWeights]:
        weights = {name: node.edge_weights() for name, node in self.nodes.items()}
        return None if any(w is None for w in weights.values()) else weights


class BiFPN(nn.Module):
    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: Sequence[int],
        layers: int = 1,
        weighting: str = "fast",
        channels: int = 0,
        upsample: str = "nearest",
        act: str = "leaky",
    ) -> None:
        super().__init__()
        if len(in_channels) != len(STRIDES):
            raise ValueError(f"BiFPN takes {len(STRIDES)} levels, got {len(in_channels)}")
        if layers < 1:
            raise ValueError(f"bifpn layers must be at least 1, got {layers}")
        if channels < 0:
            raise ValueError(f"bifpn channels must be 0 (the stride-16 width) or positive, got {channels}")
        width = channels or in_channels[1]
        self.weighting = weighting
        self.entry = nn.ModuleList([nn.Identity() if c == width else ConvBNAct(c, width, 1, act=act)
                                    for c in in_channels])
        self.layers = nn.ModuleList([BiFPNLayer(width, weighting, upsample, act) for _ in range(layers)])
        self.expand = FPNFusion([width] * len(in_channels), out_channels, act)
        self.out_channels: tuple[int, ...] = tuple(out_channels)

    def forward(self, features: Sequence[Tensor], return_weights: bool = False) -> FusionResult:
        levels = [entry(x) for entry, x in zip(self.entry, features)]
        for layer in self.layers:
            levels = layer(levels)
        outputs, _ = self.expand(levels)
        return outputs, None  # its weights are per-edge scalars: `edge_weights()`, not maps

    def edge_weights(self) -> Optional[dict]:
        """`{"weighting": name, "layers": [per layer {node: {input edge: normalised weight}}]}`;
        None under `sum` weighting (nothing learned)."""
        layers = [layer.edge_weights() for layer in self.layers]
        if any(w is None for w in layers):
            return None
        return {"weighting": self.weighting, "layers": layers}


@FUSIONS.register("bifpn", FusionInfo(adaptive=False, uses_upsample=True, uses_compress_c=False,
                                      uses_bifpn=True, edge_weights=True, uses_added_act=True))
def build_bifpn(
    in_channels: Sequence[int], out_channels: Sequence[int], options: FusionOptions
) -> BiFPN:
    return BiFPN(in_channels, out_channels, options.bifpn_layers, options.bifpn_weighting,
                 options.bifpn_channels, options.upsample, options.added_act)
