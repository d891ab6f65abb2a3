"""YOLOv3 target assignment: which level, slot and cell predicts each ground-truth box.

Each box goes to the prior (of all levels) whose shape overlaps it best (IoU of the (w, h) alone),
at the cell of that prior's level holding the box centre. With guided anchoring, the anchor-free
slot (index 3) of that cell takes the box instead when its predicted shape overlaps the box better
than the best prior does (the rule of the ASFF reference implementation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from asffbench.engine.box_coding import wh_iou
from asffbench.models.outputs import LevelOutput

ANCHOR_FREE_SLOT = 3


def priors_per_level(anchors: Sequence[Sequence[float]] | Tensor, strides: Sequence[int]) -> Tensor:
    """(L, A, 2) priors of each level: the smallest priors go to the finest stride.

    `anchors` lists L * A (w, h) pairs from small to large (the COCO layout); `strides` are in
    level order (32, 16, 8 for YOLOv3), so level 0 gets the largest group.
    """
    anchors = torch.as_tensor(anchors, dtype=torch.float32)
    num_levels = len(strides)
    if anchors.ndim != 2 or anchors.shape[1] != 2 or anchors.shape[0] % num_levels:
        raise ValueError(f"anchors must be (L*A, 2) with L={num_levels} levels, got {tuple(anchors.shape)}")
    if len(set(strides)) != num_levels:
        raise ValueError(f"strides must be distinct, got {tuple(strides)}")
    groups = anchors.reshape(num_levels, -1, 2)
    finest_first = sorted(range(num_levels), key=lambda level: strides[level])
    by_level = torch.empty_like(groups)
    for group, level in enumerate(finest_first):
        by_level[level] = groups[group]
    return by_level


@dataclass
class Assignment:
    """Where each ground-truth box (M rows, in the order of the targets) is predicted."""

    image: Tensor  # (M,) long: image index in the batch
    level: Tensor  # (M,) long
    slot: Tensor  # (M,) long: the slot holding the box (prior slot, or 3 = anchor-free)
    prior_slot: Tensor  # (M,) long: the slot of the best prior on that level
    cell_x: Tensor  # (M,) long
    cell_y: Tensor  # (M,) long


def assign_targets(
    levels: Sequence[LevelOutput],
    image_index: Tensor,
    boxes: Tensor,
    level_priors: Tensor,
    guided_anchoring: bool,
) -> Assignment:
    """Assign M boxes (xyxy input px, (M, 4)) of images `image_index` (M,) to predictions.

    `level_priors` is `priors_per_level(...)` (L, A, 2). Vectorised over boxes; loops over levels.
    """
    device = boxes.device
    priors = level_priors.to(device=device, dtype=boxes.dtype)
    num_levels, num_priors = priors.shape[:2]
    box_wh = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1e-6)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2

    shape_ious = wh_iou(box_wh[:, None, :], priors.reshape(1, -1, 2))  # (M, L*A)
    best_prior_iou, best_prior = shape_ious.max(dim=1)
    level = torch.div(best_prior, num_priors, rounding_mode="floor")
    prior_slot = best_prior % num_priors

    strides = torch.tensor([lvl.stride for lvl in levels], device=device, dtype=boxes.dtype)
    widths = torch.tensor([lvl.pred.shape[3] for lvl in levels], device=device)
    heights = torch.tensor([lvl.pred.shape[2] for lvl in levels], device=device)
    cell = torch.floor(centre / strides[level][:, None]).long()
    cell_x = torch.minimum(cell[:, 0].clamp(min=0), widths[level] - 1)
    cell_y = torch.minimum(cell[:, 1].clamp(min=0), heights[level] - 1)

    slot = prior_slot.clone()
    if guided_anchoring:
        for index, lvl in enumerate(levels[:num_levels]):
            on_level = (level == index).nonzero(as_tuple=True)[0]
            if on_level.numel() == 0:
                continue
            # The anchor-free slot's predicted shape only decides the assignment: no gradient.
            free_wh = lvl.anchors[
                image_index[on_level], ANCHOR_FREE_SLOT, cell_y[on_level], cell_x[on_level]
            ].detach().to(boxes.dtype)
            free_is_better = wh_iou(box_wh[on_level], free_wh) > best_prior_iou[on_level]
            slot[on_level] = torch.where(free_is_better, ANCHOR_FREE_SLOT, prior_slot[on_level])

    return Assignment(
        image=image_index.long(),
        level=level,
        slot=slot,
        prior_slot=prior_slot,
        cell_x=cell_x,
        cell_y=cell_y,
    )
