"""ASFF's fusion weights at the ground-truth boxes, by object size and by owning level.

The paper's Figure 3 shows where each output level draws its features from. This turns it into
numbers: for every val box, at its centre, the weights (alpha, beta, gamma: sources = levels
stride 32, 16, 8) of every output level, averaged over the boxes of each COCO size (area in
original pixels below 32², below 96², above) and over the boxes each level owns (the level of
the box's best prior, as target assignment picks it).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from asffbench.engine.targets import priors_per_level
from asffbench.engine.box_coding import wh_iou

SIZES = ("small", "medium", "large")
SIZE_LIMITS = (32.0 ** 2, 96.0 ** 2)  # COCO's area ranges


class FusionWeightStats:
    """Running sums of the weights at box centres; `result()` gives the means."""

    def __init__(self, anchors: Sequence[Sequence[float]], strides: Sequence[int]) -> None:
        self.strides = list(strides)
        self.priors = priors_per_level(anchors, strides)
        levels = len(strides)
        self.by_size = torch.zeros(len(SIZES), levels, levels, dtype=torch.float64)  # size, output, source
        self.size_boxes = torch.zeros(len(SIZES), dtype=torch.long)
        self.by_owner = torch.zeros(levels, levels, levels, dtype=torch.float64)  # owner, output, source
        self.owner_boxes = torch.zeros(levels, dtype=torch.long)

    @torch.no_grad()
    def add(self, fusion_weights: Sequence[Tensor], targets: Tensor, metas: Sequence[dict]) -> None:
        """One val batch: weights per level (B, 3, H, W); targets (M, 7) in input pixels."""
        if targets.numel() == 0:
            return
        targets = targets.detach().cpu().double()
        image = targets[:, 0].long()
        boxes = targets[:, 2:6]
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1e-6)
        # A letterbox has one scale, a stretch one per axis (sx, sy): area scales by their product.
        scale = torch.stack([torch.as_tensor(metas[i]["scale"], dtype=torch.float64).expand(2)
                             for i in image.tolist()])
        area = wh.prod(dim=1) / scale.prod(dim=1)
        size = torch.bucketize(area, torch.tensor(SIZE_LIMITS, dtype=torch.float64))
        owner = wh_iou(wh[:, None, :].float(), self.priors.reshape(1, -1, 2)).argmax(dim=1) // self.priors.shape[1]
        for level, weights in enumerate(fusion_weights):
            height, width = weights.shape[-2:]
            cell = torch.floor(centre / self.strides[level]).long()
            x = cell[:, 0].clamp(0, width - 1)
            y = cell[:, 1].clamp(0, height - 1)
            at_boxes = weights.detach().cpu().double()[image, :, y, x]  # (M, sources)
            self.by_size[:, level].index_add_(0, size, at_boxes)
            self.by_owner[:, level].index_add_(0, owner, at_boxes)
        self.size_boxes += torch.bincount(size, minlength=len(SIZES))
        self.owner_boxes += torch.bincount(owner, minlength=len(self.strides))

    def result(self) -> dict:
        """`{"sources": [strides], "by_size": {size: {"boxes", "weights": {output stride: [w per
        source]}}}, "by_owner": {stride: {...}}}`; weights null where no box counted."""
        def table(sums: Tensor, counts: Tensor, names: Sequence) -> dict:
            out = {}
            for i, name in enumerate(names):
                n = int(counts[i])
                out[str(name)] = {"boxes": n, "weights": {
                    str(stride): (sums[i, level] / n).tolist() if n else None
                    for level, stride in enumerate(self.strides)}}
            return out

        return {"sources": list(self.strides),
                "by_size": table(self.by_size, self.size_boxes, SIZES),
                "by_owner": table(self.by_owner, self.owner_boxes, self.strides)}
