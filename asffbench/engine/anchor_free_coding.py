"""Box geometry of the anchor-free family (`AnchorFreeLevel`), shared by its loss and its decoding.

Every level is flattened in the order given (stride 32, 16, 8) and, within a level, row by row:
anchor point n of the concatenation is the same prediction for the loss, the assigner and NMS.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import Tensor

from asffbench.models.outputs import AnchorFreeLevel

# Anchor points sit at cell centres (ultralytics' grid_cell_offset).
CELL_CENTRE = 0.5


class FlatLevels(NamedTuple):
    """All levels' raw predictions as one sequence of anchor points (A = sum of H x W)."""

    box_logits: Tensor  # (B, A, 4, reg_max): left, top, right, bottom distribution logits
    class_logits: Tensor  # (B, A, C)
    points: Tensor  # (A, 2) anchor points (x, y) in cells of their level
    strides: Tensor  # (A, 1) input pixels per cell

    @property
    def reg_max(self) -> int:
        return self.box_logits.shape[-1]


def flatten_levels(levels: Sequence[AnchorFreeLevel]) -> FlatLevels:
    """The levels' predictions, anchor points and strides concatenated over the levels."""
    reg_max = levels[0].reg_max
    batch, channels = levels[0].pred.shape[:2]
    num_classes = channels - 4 * reg_max
    # Channels last first: free for a channels-last model's maps (train.channels_last), one copy
    # per level otherwise; the box logits below are then a view.
    preds = torch.cat([level.pred.permute(0, 2, 3, 1).reshape(batch, -1, channels) for level in levels], dim=1)
    box_logits = preds[..., : 4 * reg_max].reshape(batch, -1, 4, reg_max)
    points, strides = anchor_points(levels)
    return FlatLevels(box_logits, preds[..., 4 * reg_max:].reshape(batch, -1, num_classes), points, strides)


def anchor_points(levels: Sequence[AnchorFreeLevel]) -> tuple[Tensor, Tensor]:
    """(A, 2) cell-centre points (x + 0.5, y + 0.5) in cells of each level, and (A, 1) strides."""
    points, strides = [], []
    for level in levels:
        height, width = level.pred.shape[2:]
        pred = level.pred
        ys = torch.arange(height, device=pred.device, dtype=pred.dtype) + CELL_CENTRE
        xs = torch.arange(width, device=pred.device, dtype=pred.dtype) + CELL_CENTRE
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        points.append(torch.stack((grid_x, grid_y), dim=-1).reshape(-1, 2))
        strides.append(torch.full((height * width, 1), float(level.stride), device=pred.device, dtype=pred.dtype))
    return torch.cat(points), torch.cat(strides)


def expected_distances(box_logits: Tensor) -> Tensor:
    """(..., 4, reg_max) logits -> (..., 4) distances in cells: the softmax over the bins projected
    on 0..reg_max-1 (the distribution focal loss's integral)."""
    bins = torch.arange(box_logits.shape[-1], device=box_logits.device, dtype=box_logits.dtype)
    return box_logits.softmax(dim=-1) @ bins


def distances_to_boxes(points: Tensor, distances: Tensor) -> Tensor:
    """xyxy boxes from anchor points (..., 2) and (left, top, right, bottom) distances (..., 4)."""
    left_top, right_bottom = distances.chunk(2, dim=-1)
    return torch.cat((points - left_top, points + right_bottom), dim=-1)


def boxes_to_distances(points: Tensor, boxes: Tensor) -> Tensor:
    """(left, top, right, bottom) distances of xyxy boxes (..., 4) from anchor points (..., 2)."""
    top_left, bottom_right = boxes.chunk(2, dim=-1)
    return torch.cat((points - top_left, bottom_right - points), dim=-1)


def decode_anchor_free(levels: Sequence[AnchorFreeLevel]) -> tuple[Tensor, Tensor]:
    """Boxes (B, A, 4) xyxy in input pixels and class probabilities (B, A, C) (sigmoid; no
    objectness in this family) of every anchor point of every level."""
    flat = flatten_levels(levels)
    boxes = distances_to_boxes(flat.points, expected_distances(flat.box_logits)) * flat.strides
    return boxes, flat.class_logits.sigmoid()
