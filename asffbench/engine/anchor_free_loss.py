"""The anchor-free family's loss: YOLOv8's (ultralytics' v8DetectionLoss, from its published
description): task-aligned assignment, BCE on the class logits, CIoU and distribution focal loss
on the boxes.

    cls = sum BCE(class logits, target scores) / N
    box = sum over positives of (1 - CIoU(pred, target)) x w / N
    dfl = sum over positives of DFL(distance logits, target distances) x w / N
    total = (box_gain x box + cls_gain x cls + dfl_gain x dfl) x batch size

N = max(sum of the target scores, 1), w = a positive's target score (summed over classes); boxes
and distances in cells of the point's level. The assigner runs dense over (ground truth, point of
its image) and cls over all points; box and dfl only on the foreground's rows, gathered into a
list of fixed size (each ground truth takes at most topk points, so there are at most M x topk for
M ground truths, a size the host knows) padded with rows of weight zero. So nothing waits for the
device but the one read of the parts' values at the end.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import complete_box_iou_loss

from asffbench.engine.anchor_free_coding import (
    FlatLevels,
    boxes_to_distances,
    distances_to_boxes,
    expected_distances,
    flatten_levels,
)
from asffbench.engine.task_aligned_assigner import Assignment, TaskAlignedAssigner
from asffbench.models.outputs import AnchorFreeLevel

PART_NAMES = ("box", "cls", "dfl")
# DFL targets stop just short of the last bin, so the right neighbour bin exists.
DFL_TARGET_MARGIN = 0.01


def second_stride(levels: Sequence[AnchorFreeLevel]) -> float:
    """The assigner's smallest ground-truth side: the second-smallest stride (ultralytics')."""
    strides = sorted(level.stride for level in levels)
    return float(strides[1] if len(strides) > 1 else strides[0])


class ForegroundRows(NamedTuple):
    """The foreground's anchor points as a list of fixed size: the real rows first, then padding
    (image 0, point 0, `real` false)."""

    image: Tensor  # (K,) long
    point: Tensor  # (K,) long
    real: Tensor  # (K,) bool


def foreground_rows(foreground: Tensor, bound: int) -> ForegroundRows:
    """(B, A) bool -> its true entries as `min(bound, B x A)` rows, without a host sync
    (`torch.nonzero_static`); `bound` must be at least the foreground's count (rows past it would
    be dropped)."""
    num_points = foreground.shape[1]
    index = torch.nonzero_static(foreground.flatten(), size=min(bound, foreground.numel()), fill_value=-1)[:, 0]
    real = index >= 0
    index = index.clamp(min=0)
    return ForegroundRows(index // num_points, index % num_points, real)


class AnchorFreeLoss(nn.Module):
    """`loss(levels, targets) -> (total, parts)` for `AnchorFreeLevel`s; `targets` (M, 7) as
    DESIGN.md, "Targets" (the weight column is not used: YOLOv8's recipe has no mixup)."""

    def __init__(self, num_classes: int, *, box_gain: float = 7.5, cls_gain: float = 0.5, dfl_gain: float = 1.5,
                 topk: int = 10, alpha: float = 0.5, beta: float = 6.0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.gains = (box_gain, cls_gain, dfl_gain)
        self.assigner_options = {"topk": topk, "alpha": alpha, "beta": beta}

    def forward(self, levels: Sequence[AnchorFreeLevel], targets: Tensor) -> tuple[Tensor, dict[str, float]]:
        parts = self.gained_parts(levels, targets)
        total = parts.sum() * levels[0].pred.shape[0]
        values = torch.cat((parts.detach(), total.detach()[None])).tolist()  # the one sync
        return total, dict(zip(PART_NAMES + ("total",), values))

    def gained_parts(self, levels: Sequence[AnchorFreeLevel], targets: Tensor) -> Tensor:
        """(3,): box, cls and dfl, each times its gain; nothing here waits for the device."""
        flat = flatten_levels(levels)
        assigned = self.assign(flat, targets.to(flat.class_logits.dtype), second_stride(levels))
        normaliser = assigned.scores.sum().clamp(min=1)
        # Each ground truth takes at most topk points: a bound on the foreground the host knows.
        rows = foreground_rows(assigned.foreground, bound=targets.shape[0] * self.assigner_options["topk"])
        box, dfl = foreground_box_terms(flat, assigned, rows)
        cls = F.binary_cross_entropy_with_logits(flat.class_logits, assigned.scores, reduction="sum")
        box_gain, cls_gain, dfl_gain = self.gains
        return torch.stack((box / normaliser * box_gain, cls / normaliser * cls_gain, dfl / normaliser * dfl_gain))

    def assign(self, flat: FlatLevels, targets: Tensor, min_side: float) -> Assignment:
        """The task-aligned assignment of every anchor point to the (M, 7) targets (boxes in input
        pixels)."""
        with torch.no_grad():
            pred_boxes = distances_to_boxes(flat.points, expected_distances(flat.box_logits)) * flat.strides
            assigner = TaskAlignedAssigner(self.num_classes, min_side=min_side, **self.assigner_options)
            return assigner(flat.class_logits.sigmoid(), pred_boxes, flat.points * flat.strides,
                            targets[:, 0].long(), targets[:, 1].long(), targets[:, 2:6])


def foreground_box_terms(flat: FlatLevels, assigned: Assignment, rows: ForegroundRows) -> tuple[Tensor, Tensor]:
    """The weighted sums of (1 - CIoU) and of the DFL over the foreground's rows; padding rows
    have weight zero and the unit box as prediction and target (finite, zero gradient)."""
    real = rows.real[:, None]
    points, strides = flat.points[rows.point], flat.strides[rows.point]
    box_logits = flat.box_logits[rows.image, rows.point]  # (K, 4, R)
    # (0, 0, 1, 1) made on the device: a tensor copied from the host would wait for it.
    unit_box = torch.arange(4, dtype=box_logits.dtype, device=box_logits.device).floor_divide(2)
    pred_boxes = torch.where(real, distances_to_boxes(points, expected_distances(box_logits)), unit_box)  # cells
    target_boxes = torch.where(real, assigned.boxes[rows.image, rows.point] / strides, unit_box)
    weight = assigned.scores[rows.image, rows.point].sum(dim=-1) * rows.real
    distances = boxes_to_distances(points, target_boxes)
    return ((complete_box_iou_loss(pred_boxes, target_boxes) * weight).sum(),
            (distribution_focal_loss(box_logits, distances) * weight).sum())


def distribution_focal_loss(box_logits: Tensor, distances: Tensor) -> Tensor:
    """(..., 4, R) logits and (..., 4) target distances (cells) -> (...) DFL: cross-entropy to the
    two bins around each side's target distance, weighted by closeness, mean over the four sides
    (GFL, arXiv 2006.04388)."""
    distances = distances.clamp(0, box_logits.shape[-1] - 1 - DFL_TARGET_MARGIN)
    left = distances.long()
    left_weight = (left + 1) - distances
    log_probs = F.log_softmax(box_logits, dim=-1)
    left_log_prob = log_probs.gather(-1, left[..., None])[..., 0]
    right_log_prob = log_probs.gather(-1, (left + 1)[..., None])[..., 0]
    return -(left_log_prob * left_weight + right_log_prob * (1 - left_weight)).mean(dim=-1)
