"""BiFPN's parts: a node (weighted sum of same-shaped inputs, then its conv) and the
projections that bring its input levels to the common width.

Node convs (`BIFPN_CONVS`): `separable`, EfficientDet's (google/automl: the activation on the
fused sum, a depthwise-separable 3x3, BN, no activation after it), and `full`, a 3x3 conv unit
(conv, BN, activation) on the sum, what `bifpn` was before `fusion.bifpn_conv`.
"""

from __future__ import annotations

from typing import Optional, Sequence

from torch import Tensor, nn

from asffbench.models.fusion.weighted_sum import WeightedSum
from asffbench.models.layers import ACTIVATIONS, ConvBNAct, SeparableConvBN

BIFPN_CONVS = ("separable", "full")


def node_conv(form: str, channels: int, act: str) -> nn.Module:
    if form not in BIFPN_CONVS:
        raise ValueError(f"bifpn conv must be one of {BIFPN_CONVS}, got {form!r}")
    if form == "full":
        return ConvBNAct(channels, channels, 3, act=act)
    return nn.Sequential(ACTIVATIONS[act](), SeparableConvBN(channels))


def projection(in_channels: int, channels: int, activated: bool, act: str) -> nn.Module:
    """A 1x1 to the common width where the widths differ: a conv unit (`activated`) or, as
    EfficientDet's, conv + BN alone."""
    if in_channels == channels:
        return nn.Identity()
    if activated:
        return ConvBNAct(in_channels, channels, 1, act=act)
    return nn.Sequential(nn.Conv2d(in_channels, channels, 1, bias=False), nn.BatchNorm2d(channels))


class BiFPNNode(nn.Module):
    def __init__(self, sources: Sequence[str], channels: int, weighting: str, act: str = "leaky",
                 conv: str = "full") -> None:
        super().__init__()
        self.sources = tuple(sources)  # names of the input edges, in input order
        self.combine = WeightedSum(len(sources), weighting)
        self.conv = node_conv(conv, channels, act)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        return self.conv(self.combine(inputs))

    def edge_weights(self) -> Optional[dict[str, float]]:
        weights = self.combine.normalised_weights()
        if weights is None:
            return None
        return dict(zip(self.sources, weights.detach().cpu().tolist()))
