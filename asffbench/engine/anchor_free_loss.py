"""The anchor-free family's loss: YOLOv8's (ultralytics' v8DetectionLoss, from its published
description): task-aligned assignment, BCE on the class logits, CIoU and distribution focal loss
on the boxes.

    cls = sum BCE(class logits, target scores) / N
    box = sum over positives of (1 - CIoU(pred, target)) x w / N
    dfl = sum over positives of DFL(distance logits, target distances) x w / N
    total = (box_gain x box + cls_gain x cls + dfl_gain x dfl) x batch size

N = max(sum of the target scores, 1), w = a positive's target score (summed over classes); boxes
and distances in cells of the point's level. Every term runs dense over all points (the
background's weight is zero), so there is no host sync but the one that sizes the padded ground
truths.
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
from asffbench.engine.task_aligned_assigner import TaskAlignedAssigner
from asffbench.models.outputs import AnchorFreeLevel

PART_NAMES = ("box", "cls", "dfl")
# DFL targets stop just short of the last bin, so the right neighbour bin exists.
DFL_TARGET_MARGIN = 0.01


class PaddedTargets(NamedTuple):
    labels: Tensor  # (B, G) long
    boxes: Tensor  # (B, G, 4) xyxy input px
    valid: Tensor  # (B, G) bool


def pad_targets(targets: Tensor, batch_size: int) -> PaddedTargets:
    """(M, 7) `[image, label, x1, y1, x2, y2, weight]` rows -> per-image slots, padded to the
    largest count G (one host sync: G sizes the tensors). Rows keep their order within an image."""
    device = targets.device
    if targets.shape[0] == 0:
        return PaddedTargets(torch.zeros((batch_size, 0), dtype=torch.long, device=device),
                             torch.zeros((batch_size, 0, 4), device=device),
                             torch.zeros((batch_size, 0), dtype=torch.bool, device=device))
    image = targets[:, 0].long()
    order = torch.sort(image, stable=True).indices
    image, rows = image[order], targets[order]
    counts = torch.bincount(image, minlength=batch_size)
    slot = torch.arange(rows.shape[0], device=device) - (torch.cumsum(counts, 0) - counts)[image]
    size = int(counts.max())
    labels = torch.zeros((batch_size, size), dtype=torch.long, device=device)
    boxes = torch.zeros((batch_size, size, 4), dtype=targets.dtype, device=device)
    valid = torch.zeros((batch_size, size), dtype=torch.bool, device=device)
    labels[image, slot] = rows[:, 1].long()
    boxes[image, slot] = rows[:, 2:6]
    valid[image, slot] = True
    return PaddedTargets(labels, boxes, valid)


def second_stride(levels: Sequence[AnchorFreeLevel]) -> float:
    """The assigner's smallest ground-truth side: the second-smallest stride (ultralytics')."""
    strides = sorted(level.stride for level in levels)
    return float(strides[1] if len(strides) > 1 else strides[0])


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
        flat = flatten_levels(levels)
        batch_size = flat.class_logits.shape[0]
        pred_boxes = distances_to_boxes(flat.points, expected_distances(flat.box_logits))  # cells
        truths = pad_targets(targets.to(flat.class_logits.dtype), batch_size)
        assigner = TaskAlignedAssigner(self.num_classes, min_side=second_stride(levels), **self.assigner_options)
        assigned = assigner(flat.class_logits.detach().sigmoid(), pred_boxes.detach() * flat.strides,
                            flat.points * flat.strides, truths.labels, truths.boxes, truths.valid)
        normaliser = assigned.scores.sum().clamp(min=1)
        weight = assigned.scores.sum(dim=-1)  # (B, A): zero off the foreground
        # The targets in cells; off the foreground the prediction itself (zero loss, finite gradient).
        target_boxes = torch.where(assigned.foreground[..., None], assigned.boxes / flat.strides, pred_boxes.detach())
        parts = torch.stack((
            (complete_box_iou_loss(pred_boxes, target_boxes) * weight).sum() / normaliser,
            F.binary_cross_entropy_with_logits(flat.class_logits, assigned.scores, reduction="sum") / normaliser,
            (distribution_focal_loss(flat, target_boxes) * weight).sum() / normaliser,
        )) * torch.tensor(self.gains, dtype=normaliser.dtype, device=normaliser.device)
        total = parts.sum() * batch_size
        values = torch.cat((parts.detach(), total.detach()[None])).tolist()  # one sync
        return total, dict(zip(PART_NAMES + ("total",), values))


def distribution_focal_loss(flat: FlatLevels, target_boxes: Tensor) -> Tensor:
    """(B, A) DFL: cross-entropy to the two bins around each side's target distance, weighted by
    closeness, mean over the four sides (GFL, arXiv 2006.04388)."""
    distances = boxes_to_distances(flat.points, target_boxes).clamp(0, flat.reg_max - 1 - DFL_TARGET_MARGIN)
    left = distances.long()
    left_weight = (left + 1) - distances
    log_probs = F.log_softmax(flat.box_logits, dim=-1)  # (B, A, 4, R)
    left_log_prob = log_probs.gather(-1, left[..., None])[..., 0]
    right_log_prob = log_probs.gather(-1, (left + 1)[..., None])[..., 0]
    return -(left_log_prob * left_weight + right_log_prob * (1 - left_weight)).mean(dim=-1)
