"""YOLOv8's decoupled anchor-free head with the distribution focal loss' box bins (DFL).

Per level, two branches on the level's feature: the box branch (two 3x3 conv units of width
`box_width`, a 1x1 conv to 4 x reg_max distance-bin logits) and the class branch (two 3x3 conv
units of width `class_width`, a 1x1 conv to C logits), concatenated box first: an
`AnchorFreeLevel` per level, ordered like the features (stride 32, 16, 8). Widths follow the
family: box_width = max(16, w8 / 4, 4 x reg_max), class_width = max(w8, min(C, 100)), w8 being
the stride-8 level's width. Bias initialisation: box logits 2.0, class logits
log(5 / C / (640 / stride)^2) (about 0.01 objects per cell at 640 px over 80 classes).

`dfl` is the fixed projection of the bins on 0..reg_max-1 (no gradient): the decode the
post-processing does, kept as the ultralytics layout keeps it (`dfl.conv.weight`), so state
dicts and parameter counts are the family's. The ultralytics layout numbers the levels from
stride 8 (its `cv2.0` is our `box_branches.2`).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from asffbench.models.layers import ConvBNAct
from asffbench.models.outputs import AnchorFreeLevel

REG_MAX = 16
BOX_BIAS = 2.0
PRIOR_OBJECTS, PRIOR_SIZE = 5.0, 640  # the class bias' prior: 5 objects per 640 x 640 image


class DistributionProjection(nn.Module):
    """The expectation of a side's bin distribution: a fixed 1x1 conv with weights 0..reg_max-1."""

    def __init__(self, reg_max: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(reg_max, 1, 1, bias=False).requires_grad_(False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.arange(reg_max, dtype=torch.float32).view(1, reg_max, 1, 1))


def branch(in_channels: int, width: int, outputs: int, act: str) -> nn.Sequential:
    return nn.Sequential(
        ConvBNAct(in_channels, width, 3, act=act),
        ConvBNAct(width, width, 3, act=act),
        nn.Conv2d(width, outputs, 1),
    )


class AnchorFreeHead(nn.Module):
    def __init__(
        self,
        in_channels: Sequence[int],
        num_classes: int,
        strides: Sequence[int] = (32, 16, 8),
        reg_max: int = REG_MAX,
        act: str = "silu",
    ) -> None:
        super().__init__()
        if len(in_channels) != len(strides):
            raise ValueError(f"{len(in_channels)} level widths for {len(strides)} strides")
        finest = in_channels[-1]
        box_width = max(16, finest // 4, 4 * reg_max)
        class_width = max(finest, min(num_classes, 100))
        self.num_classes = num_classes
        self.strides = tuple(strides)
        self.reg_max = reg_max
        self.box_branches = nn.ModuleList([branch(c, box_width, 4 * reg_max, act) for c in in_channels])
        self.class_branches = nn.ModuleList([branch(c, class_width, num_classes, act) for c in in_channels])
        self.dfl = DistributionProjection(reg_max)
        self.initialise_biases()

    def initialise_biases(self) -> None:
        with torch.no_grad():
            for box, cls, stride in zip(self.box_branches, self.class_branches, self.strides):
                box[-1].bias.fill_(BOX_BIAS)
                cls[-1].bias.fill_(math.log(PRIOR_OBJECTS / self.num_classes / (PRIOR_SIZE / stride) ** 2))

    def forward(self, features: Sequence[Tensor]) -> list[AnchorFreeLevel]:
        return [
            AnchorFreeLevel(pred=torch.cat([box(x), cls(x)], dim=1), stride=stride, reg_max=self.reg_max)
            for x, box, cls, stride in zip(features, self.box_branches, self.class_branches, self.strides)
        ]
