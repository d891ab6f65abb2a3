"""The YOLOv3 head: per level a 1x1 prediction conv for 3 anchor slots (or the guided variant)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from asffbench.models.head.guided_anchoring import GuidedAnchorLevelHead
from asffbench.models.head.prediction_slots import init_prediction_conv, to_slots
from asffbench.models.layers import RFB
from asffbench.models.outputs import LevelOutput

ANCHORS_PER_LEVEL = 3


class YOLOLevelHead(nn.Module):
    """One level of the plain YOLOv3 head: fixed COCO priors, a 1x1 conv to 3 x (5 + C)."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        priors: Sequence[Sequence[float]],
        stride: int,
        rfb: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_slots = len(priors)
        self.stride = stride
        self.register_buffer("priors", torch.tensor(priors, dtype=torch.float32), persistent=False)
        # Without guided anchoring there is no adaption: RFB then sits right before the prediction.
        self.rfb = RFB(in_channels) if rfb else nn.Identity()
        self.pred = nn.Conv2d(in_channels, self.num_slots * (5 + num_classes), 1)
        init_prediction_conv(self.pred, self.num_slots, num_classes)

    def forward(self, x: Tensor) -> LevelOutput:
        pred = to_slots(self.pred(self.rfb(x)), self.num_slots)
        batch, slots, height, width, _ = pred.shape
        anchors = self.priors.to(pred.dtype).view(1, slots, 1, 1, 2).expand(batch, slots, height, width, 2)
        return LevelOutput(pred=pred, anchors=anchors, shape_pred=None, stride=self.stride)


class YOLOHead(nn.Module):
    """Heads of the three levels (stride 32, 16, 8); level 0 gets the three largest priors.

    `anchors` are the nine COCO (w, h) priors in input pixels, small to large. With
    `guided_anchoring` each level predicts anchor shapes and adds an anchor-free slot; `rfb`
    puts an RFB block before the guided head's feature adaption (ASFF*), or before the plain
    prediction conv when guided anchoring is off. `deform_conv` names the deformable-conv
    implementation of the guided head (`DEFORM_CONVS`); without `feature_adaption` the guided
    head predicts from the level feature directly (the reference's MobileNetV2 heads).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        anchors: Sequence[Sequence[float]],
        strides: Sequence[int] = (32, 16, 8),
        guided_anchoring: bool = False,
        rfb: bool = False,
        deform_conv: str = "torchvision",
        feature_adaption: bool = True,
    ) -> None:
        super().__init__()
        num_levels = len(strides)
        if len(anchors) != ANCHORS_PER_LEVEL * num_levels or any(len(a) != 2 for a in anchors):
            raise ValueError(f"expected {ANCHORS_PER_LEVEL * num_levels} (w, h) anchors, got {list(anchors)}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = num_classes
        self.strides: tuple[int, ...] = tuple(strides)
        self.guided_anchoring = guided_anchoring
        levels: list[nn.Module] = []
        for level, (channels, stride) in enumerate(zip(in_channels, strides)):
            first = (num_levels - 1 - level) * ANCHORS_PER_LEVEL  # coarsest level: largest priors
            priors = [list(map(float, a)) for a in anchors[first : first + ANCHORS_PER_LEVEL]]
            if guided_anchoring:
                levels.append(
                    GuidedAnchorLevelHead(channels, num_classes, priors, stride, rfb=rfb, deform_conv=deform_conv,
                                          feature_adaption=feature_adaption)
                )
            else:
                levels.append(YOLOLevelHead(channels, num_classes, priors, stride, rfb=rfb))
        self.levels = nn.ModuleList(levels)

    @property
    def num_slots(self) -> int:
        return self.levels[0].num_slots

    def forward(self, features: Sequence[Tensor]) -> list[LevelOutput]:
        return [head(x) for head, x in zip(self.levels, features)]
