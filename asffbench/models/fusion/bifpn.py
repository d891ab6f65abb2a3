"""`fusion=bifpn`: EfficientDet's BiFPN over three levels (stride 32, 16, 8).

Its input (`fusion.bifpn_input`) is the backbone's taps (`backbone`, EfficientDet's: the family's
neck is left out) or the family's top-down neck (`fpn`, "FPN + BiFPN"). All nodes work at one
common width (`channels`), so every node is a weighted sum of same-shaped maps (`WeightedSum`)
followed by its conv (bifpn_node.py, `fusion.bifpn_conv`). Where an input level's width differs,
a 1x1 brings it there: from the backbone, as EfficientDet does, a separate unactivated conv + BN
for each node the level enters in the first layer (in16 and in32 enter two); from the neck one
activated conv unit per level. One layer, levels 0 (stride 32) to 2 (8):

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
from asffbench.models.fusion.bifpn_node import BiFPNNode, projection
from asffbench.models.fusion.fpn import FPNFusion
from asffbench.models.fusion.registry import FUSIONS, FusionInfo, FusionOptions
from asffbench.models.fusion.resize import Upsample

STRIDES = (32, 16, 8)  # the fusion contract's level order; names the nodes and edges
BIFPN_INPUTS = ("backbone", "fpn")
EdgeWeights = dict[str, dict[str, float]]  # node -> {input edge: normalised weight}


class BiFPNLayer(nn.Module):
    """One bidirectional pass over three same-width levels."""

    def __init__(self, channels: int, weighting: str, upsample: str, act: str = "leaky", conv: str = "full") -> None:
        super().__init__()
        self.upsample = Upsample(channels, channels, upsample)  # same width: interpolation only
        s32, s16, s8 = STRIDES
        self.nodes = nn.ModuleDict({
            f"td{s16}": BiFPNNode([f"in{s16}", f"in{s32}"], channels, weighting, act, conv),
            f"out{s8}": BiFPNNode([f"in{s8}", f"td{s16}"], channels, weighting, act, conv),
            f"out{s16}": BiFPNNode([f"in{s16}", f"td{s16}", f"out{s8}"], channels, weighting, act, conv),
            f"out{s32}": BiFPNNode([f"in{s32}", f"out{s16}"], channels, weighting, act, conv),
        })

    def up(self, x: Tensor, target: Tensor) -> Tensor:
        return self.upsample(x, target.shape[-2:])

    @staticmethod
    def down(x: Tensor) -> Tensor:
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)

    def forward(self, features: Sequence[Tensor], skips: Optional[Sequence[Tensor]] = None) -> list[Tensor]:
        """`skips`: the levels as the bottom-up nodes take them (separately projected), else `features`."""
        in32, in16, in8 = features
        skip32, skip16, _ = features if skips is None else skips
        s32, s16, s8 = STRIDES
        td16 = self.nodes[f"td{s16}"]([in16, self.up(in32, in16)])
        out8 = self.nodes[f"out{s8}"]([in8, self.up(td16, in8)])
        out16 = self.nodes[f"out{s16}"]([skip16, td16, self.down(out8)])
        out32 = self.nodes[f"out{s32}"]([skip32, self.down(out16)])
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
        conv: str = "full",
        source: str = "fpn",
    ) -> None:
        super().__init__()
        if len(in_channels) != len(STRIDES):
            raise ValueError(f"BiFPN takes {len(STRIDES)} levels, got {len(in_channels)}")
        if layers < 1:
            raise ValueError(f"bifpn layers must be at least 1, got {layers}")
        if channels < 0:
            raise ValueError(f"bifpn channels must be 0 (the stride-16 width) or positive, got {channels}")
        if source not in BIFPN_INPUTS:
            raise ValueError(f"bifpn input must be one of {BIFPN_INPUTS}, got {source!r}")
        width = channels or in_channels[1]
        self.weighting = weighting
        activated = source == "fpn"
        self.entry = nn.ModuleList([projection(c, width, activated, act) for c in in_channels])
        # EfficientDet's second projections of in32 and in16, for the bottom-up nodes.
        self.skip_entry = None if activated else nn.ModuleList(
            [projection(c, width, False, act) for c in in_channels[:2]])
        self.layers = nn.ModuleList([BiFPNLayer(width, weighting, upsample, act, conv) for _ in range(layers)])
        self.expand = FPNFusion([width] * len(in_channels), out_channels, act)
        self.out_channels: tuple[int, ...] = tuple(out_channels)

    def forward(self, features: Sequence[Tensor], return_weights: bool = False) -> FusionResult:
        levels = [entry(x) for entry, x in zip(self.entry, features)]
        skips = None if self.skip_entry is None else [
            *(entry(x) for entry, x in zip(self.skip_entry, features)), levels[2]]
        for layer in self.layers:
            levels, skips = layer(levels, skips), None
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
                 options.bifpn_channels, options.upsample, options.added_act, options.bifpn_conv, options.bifpn_input)
