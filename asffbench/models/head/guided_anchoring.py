"""Guided anchoring with an anchor-free slot, as in the ASFF strong baseline.

Per level a 1x1 conv predicts a log-scale (w, h) for 4 slots: the 3 anchor-based ones (relative
to their COCO prior) and 1 anchor-free one (relative to 4 x stride). The features are adapted to
the predicted shapes by a 3x3 deformable conv whose offsets come from a 1x1 conv on the detached
shape prediction, then the 1x1 prediction conv runs on the adapted features. The deformable conv
has a bias, as in the reference implementation.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from asffbench.models.head.prediction_slots import init_prediction_conv, to_slots
from asffbench.models.layers import DEFORM_CONVS, RFB
from asffbench.models.outputs import LevelOutput

ANCHOR_FREE_SCALE = 4  # the anchor-free slot's base size is 4 x stride


class FeatureAdaption(nn.Module):
    """[RFB] then a 3x3 deformable conv (one deformable group per slot) steered by the shapes.

    `deform_conv` names the implementation (`DEFORM_CONVS`: torchvision or sampled); both
    compute the same function with the same parameters.
    """

    def __init__(self, channels: int, num_slots: int, rfb: bool = False, deform_conv: str = "torchvision") -> None:
        super().__init__()
        self.rfb = RFB(channels) if rfb else nn.Identity()
        kernel_points = 3 * 3
        # Grouped: each slot's offsets depend only on that slot's predicted (w, h).
        self.offset = nn.Conv2d(2 * num_slots, 2 * kernel_points * num_slots, 1, groups=num_slots)
        # Any module with DeformConv2d's call signature and its `weight` / `bias` parameters fits
        # here (the weight import maps these two names).
        self.deform = DEFORM_CONVS.get(deform_conv)(channels, channels, 3, padding=1, bias=True)
        # Zero offsets at the start: the deformable conv begins as a plain 3x3 conv.
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)

    def forward(self, x: Tensor, shape_pred: Tensor) -> Tensor:
        # The adaption must not train the shape branch: its own loss does (detach).
        return self.deform(self.rfb(x), self.offset(shape_pred.detach()))


class GuidedAnchorLevelHead(nn.Module):
    """One level: shape conv, feature adaption, prediction conv for 3 + 1 slots.

    Without `feature_adaption` (the reference's MobileNetV2 heads, its `sep=True`) the prediction
    conv runs on the level feature itself; the shapes still set the decoding anchors.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        priors: Sequence[Sequence[float]],
        stride: int,
        rfb: bool = False,
        deform_conv: str = "torchvision",
        feature_adaption: bool = True,
    ) -> None:
        super().__init__()
        if rfb and not feature_adaption:
            raise ValueError("RFB sits in the feature adaption: it needs feature_adaption=True")
        self.num_classes = num_classes
        self.num_slots = len(priors) + 1
        self.stride = stride
        free_size = float(ANCHOR_FREE_SCALE * stride)
        base = [list(map(float, p)) for p in priors] + [[free_size, free_size]]
        self.register_buffer("base_sizes", torch.tensor(base, dtype=torch.float32), persistent=False)
        self.shape = nn.Conv2d(in_channels, 2 * self.num_slots, 1)
        self.adaption = (
            FeatureAdaption(in_channels, self.num_slots, rfb=rfb, deform_conv=deform_conv) if feature_adaption else None
        )
        self.pred = nn.Conv2d(in_channels, self.num_slots * (5 + num_classes), 1)
        # Shapes start near their base sizes (exp(~0) = 1).
        nn.init.normal_(self.shape.weight, std=0.01)
        nn.init.zeros_(self.shape.bias)
        init_prediction_conv(self.pred, self.num_slots, num_classes)

    def forward(self, x: Tensor) -> LevelOutput:
        shape_raw = self.shape(x)
        adapted = x if self.adaption is None else self.adaption(x, shape_raw)
        pred = to_slots(self.pred(adapted), self.num_slots)
        shape_pred = to_slots(shape_raw, self.num_slots)
        # Decoding anchors are constants for the box losses; the shape loss trains shape_pred.
        base = self.base_sizes.to(shape_pred.dtype).view(1, self.num_slots, 1, 1, 2)
        anchors = base * shape_pred.detach().exp()
        return LevelOutput(pred=pred, anchors=anchors, shape_pred=shape_pred, stride=self.stride)
