"""The YOLOv3 loss of the strong baseline, with the bag-of-tricks toggles of the ASFF paper.

Per ground-truth box, at the prediction it is assigned to (`targets.assign_targets`):
  xy    BCE-with-logits of (tx, ty) against the centre's offset in its cell,
  wh    L1 of (tw, th) against log(box / anchor),
  cls   BCE of the class logits (targets 1 - d / d with label smoothing, d = min(1/C, cap)),
  iou   GIoU loss, or 1 - IoU^2 (the reference), of the decoded box (when `iou_loss`),
  shape the guided-anchoring shape prediction against the box, at the best prior's slot and at
        the anchor-free slot of the box's cell (when `guided_anchoring`): L1 on log(box / base
        size), or 1 - IoU_wh^2 of the slot's prior and the box (the reference).
xy, wh and iou are weighted by 2 - box area / image area (small boxes count more, as in YOLOv3
and the ASFF reference). Objectness is BCE over every prediction: 1 at assigned ones, 0 elsewhere,
except that unassigned predictions whose decoded box overlaps a ground truth of their image with
IoU > `ignore_thresh` are left out. The positive objectness term is scaled by the box's mixup
weight, and with `mixup_weighting="all_terms"` every other per-box term too. With
`box_terms_train_shape` the anchors of wh and iou keep their gradient, so those terms train the
shape branch as well (the reference). Two boxes on one prediction (same image, level, slot and
cell) both train it by default; with `shared_prediction="last_box"` only the one listed last does,
as the reference's dense targets, overwritten box by box, have it (the shape term likewise, per
slot it trains). Sums are divided by the batch size.
"""

from __future__ import annotations

import copy
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import box_convert, generalized_box_iou_loss

from asffbench.engine.box_coding import batched_box_iou, decode_level, paired_box_iou, wh_iou
from asffbench.engine.targets import ANCHOR_FREE_SLOT, Assignment, assign_targets, priors_per_level
from asffbench.models.head.guided_anchoring import ANCHOR_FREE_SCALE
from asffbench.models.outputs import LevelOutput

PART_NAMES = ("xy", "wh", "obj", "cls", "iou", "shape")
IOU_LOSS_FORMS = ("giou", "iou_squared")
SHAPE_LOSS_FORMS = ("l1_log", "iou_squared")
MIXUP_WEIGHTINGS = ("all_terms", "positive_objectness")
SHARED_PREDICTIONS = ("every_box", "last_box")


def label_smoothing_delta(num_classes: int, cap: Optional[float] = 0.1) -> float:
    """The smoothing of class targets: 1/C as in the ASFF reference, by default at most 0.1 so
    that a dataset with few classes does not get near-uniform targets (`cap=None`: no cap)."""
    return 1.0 / num_classes if cap is None else min(1.0 / num_classes, cap)


class YOLOLoss(nn.Module):
    """`loss(levels, targets) -> (total, parts)`.

    targets: (M, 7) `[image_index, label, x1, y1, x2, y2, weight]` in input pixels.
    total: scalar tensor to back-propagate; parts: detached floats
    `{"xy", "wh", "obj", "cls", "iou", "shape", "total"}` (0.0 for a switched-off term).
    """

    def __init__(
        self,
        num_classes: int,
        anchors: Sequence[Sequence[float]],
        *,
        iou_loss: bool = True,
        label_smoothing: bool = True,
        guided_anchoring: bool = True,
        ignore_thresh: float = 0.7,
        strides: Sequence[int] = (32, 16, 8),
        iou_loss_form: str = "giou",
        shape_loss_form: str = "l1_log",
        box_terms_train_shape: bool = False,
        mixup_weighting: str = "all_terms",
        label_smoothing_max: Optional[float] = 0.1,
        shared_prediction: str = "every_box",
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        for name, value, choices in (
            ("iou_loss_form", iou_loss_form, IOU_LOSS_FORMS),
            ("shape_loss_form", shape_loss_form, SHAPE_LOSS_FORMS),
            ("mixup_weighting", mixup_weighting, MIXUP_WEIGHTINGS),
            ("shared_prediction", shared_prediction, SHARED_PREDICTIONS),
        ):
            if value not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {value!r}")
        self.num_classes = num_classes
        self.strides = tuple(int(s) for s in strides)
        self.iou_loss = iou_loss
        self.label_smoothing = label_smoothing
        self.guided_anchoring = guided_anchoring
        self.ignore_thresh = ignore_thresh
        self.iou_loss_form = iou_loss_form
        self.shape_loss_form = shape_loss_form
        self.box_terms_train_shape = box_terms_train_shape
        self.mixup_weighting = mixup_weighting
        self.label_smoothing_max = label_smoothing_max
        self.shared_prediction = shared_prediction
        self.register_buffer("level_priors", priors_per_level(anchors, self.strides), persistent=False)

    def forward(self, levels: Sequence[LevelOutput], targets: Tensor) -> tuple[Tensor, dict[str, float]]:
        self._check_levels(levels)
        device = levels[0].pred.device
        batch = levels[0].pred.shape[0]
        targets = targets.to(device=device, dtype=torch.float32).reshape(-1, 7)
        image_index = targets[:, 0].long()
        boxes = targets[:, 2:6]
        assignment = assign_targets(levels, image_index, boxes, self.level_priors, self.guided_anchoring)
        image_boxes, image_box_valid = _boxes_per_image(image_index, boxes, batch)
        height, width = levels[0].pred.shape[2:4]
        image_area = float(height * levels[0].stride * width * levels[0].stride)

        sums = {name: torch.zeros((), device=device) for name in PART_NAMES}
        for index, level in enumerate(levels):
            pred = level.pred.float()
            assigned = _Assigned(assignment, targets, (assignment.level == index).nonzero(as_tuple=True)[0])
            trained = self._training_boxes(assigned)
            sums["obj"] = sums["obj"] + self._objectness(level, pred, trained, image_boxes, image_box_valid)
            if assigned.count == 0:
                continue
            size_weight = 2.0 - trained.box_wh.prod(dim=1) / image_area
            for name, value in self._box_terms(level, index, pred, trained, size_weight).items():
                sums[name] = sums[name] + value
            if self.guided_anchoring:
                sums["shape"] = sums["shape"] + self._shape(level, index, assigned)

        parts_tensor = torch.stack([sums[name] for name in PART_NAMES]) / batch
        total = parts_tensor.sum()
        values = torch.cat((parts_tensor.detach(), total.detach()[None])).tolist()  # one sync
        return total, dict(zip(PART_NAMES + ("total",), values))

    def _training_boxes(self, assigned: "_Assigned") -> "_Assigned":
        """The boxes that train the predictions they are assigned to: all of them (no extra work
        on the hot path), or with `last_box` the last one listed at each prediction."""
        if self.shared_prediction == "every_box":
            return assigned
        return assigned.select(assigned.last_at(assigned.slot))

    def _check_levels(self, levels: Sequence[LevelOutput]) -> None:
        strides = tuple(level.stride for level in levels)
        if strides != self.strides:
            raise ValueError(f"levels have strides {strides}, the loss expects {self.strides}")
        slots = self.level_priors.shape[1] + (1 if self.guided_anchoring else 0)
        for level in levels:
            if level.pred.shape[1] != slots or level.pred.shape[-1] != 5 + self.num_classes:
                raise ValueError(
                    f"level pred {tuple(level.pred.shape)} does not match {slots} slots and "
                    f"{self.num_classes} classes (guided_anchoring={self.guided_anchoring})"
                )
            if self.guided_anchoring and level.shape_pred is None:
                raise ValueError("guided_anchoring=True needs shape_pred in every level")

    def _objectness(
        self, level: LevelOutput, pred: Tensor, assigned: "_Assigned", image_boxes: Tensor, image_box_valid: Tensor
    ) -> Tensor:
        obj_target = torch.zeros_like(pred[..., 4])
        obj_weight = torch.ones_like(pred[..., 4])
        if image_box_valid.any():
            with torch.no_grad():
                decoded = decode_level(LevelOutput(pred.detach(), level.anchors.detach().float(), None, level.stride))
                ious = batched_box_iou(decoded.reshape(pred.shape[0], -1, 4), image_boxes)
                ious = ious.masked_fill(~image_box_valid[:, None, :], 0.0)
                ignored = ious.amax(dim=2).reshape(obj_weight.shape) > self.ignore_thresh
            obj_weight = obj_weight.masked_fill(ignored, 0.0)
        if assigned.count:
            flat = assigned.flat_index(pred.shape)
            obj_target.view(-1)[flat] = 1.0
            # Two boxes on one prediction (`every_box`): it keeps the larger mixup weight.
            obj_weight = obj_weight.view(-1).scatter_reduce(0, flat, assigned.weight, "amax", include_self=False)
            obj_weight = obj_weight.view_as(obj_target)
        losses = F.binary_cross_entropy_with_logits(pred[..., 4], obj_target, reduction="none")
        return (losses * obj_weight).sum()

    def _box_terms(
        self, level: LevelOutput, index: int, pred: Tensor, assigned: "_Assigned", size_weight: Tensor
    ) -> dict[str, Tensor]:
        where = (assigned.image, assigned.slot, assigned.cell_y, assigned.cell_x)
        chosen = pred[where]  # (K, 5 + C)
        anchor = self._box_anchors(level, index, assigned)
        cell_xy = torch.stack((assigned.cell_x, assigned.cell_y), dim=1).to(chosen.dtype)
        term_weight = self._term_weight(assigned)
        box_weight = size_weight * term_weight
        terms = {}

        xy_target = assigned.centre / level.stride - cell_xy
        xy = F.binary_cross_entropy_with_logits(chosen[:, :2], xy_target, reduction="none").sum(dim=1)
        terms["xy"] = (xy * box_weight).sum()
        wh = (chosen[:, 2:4] - torch.log(assigned.box_wh / anchor)).abs().sum(dim=1)
        terms["wh"] = (wh * box_weight).sum()

        delta = label_smoothing_delta(self.num_classes, self.label_smoothing_max) if self.label_smoothing else 0.0
        class_target = torch.full_like(chosen[:, 5:], delta)
        class_target[torch.arange(assigned.count, device=class_target.device), assigned.labels] = 1.0 - delta
        cls = F.binary_cross_entropy_with_logits(chosen[:, 5:], class_target, reduction="none").sum(dim=1)
        terms["cls"] = (cls * term_weight).sum()

        if self.iou_loss:
            pred_centre = (chosen[:, :2].sigmoid() + cell_xy) * level.stride
            pred_wh = anchor * chosen[:, 2:4].exp()
            pred_boxes = box_convert(torch.cat((pred_centre, pred_wh), dim=1), "cxcywh", "xyxy")
            if self.iou_loss_form == "giou":
                iou = generalized_box_iou_loss(pred_boxes, assigned.boxes, reduction="none")
            else:
                iou = 1.0 - paired_box_iou(pred_boxes, assigned.boxes).square()
            terms["iou"] = (iou * box_weight).sum()
        return terms

    def _box_anchors(self, level: LevelOutput, index: int, assigned: "_Assigned") -> Tensor:
        """(K, 2) anchors of the assigned predictions, the reference the box targets are in.

        By default constants: with guided anchoring the shape branch is then trained by its own
        loss only. With `box_terms_train_shape` they are rebuilt from the shape prediction with
        its gradient (the model's `anchors` are detached), as the reference lets them be.
        """
        where = (assigned.image, assigned.slot, assigned.cell_y, assigned.cell_x)
        if not (self.box_terms_train_shape and self.guided_anchoring):
            return level.anchors[where].detach().float()
        bases = self._slot_bases(level, index)[assigned.slot]
        return bases * level.shape_pred[where].float().exp()

    def _slot_bases(self, level: LevelOutput, index: int) -> Tensor:
        """(A + 1, 2) base sizes of a guided level's slots: its priors, then the anchor-free one."""
        priors = self.level_priors[index]
        free = torch.full((1, 2), float(ANCHOR_FREE_SCALE * level.stride), device=priors.device)
        return torch.cat((priors, free))

    def _term_weight(self, assigned: "_Assigned") -> Tensor:
        """The per-box weight of every term but the positive objectness: the mixup weight, or 1
        when only the positive objectness carries it (the reference)."""
        if self.mixup_weighting == "all_terms":
            return assigned.weight
        return torch.ones_like(assigned.weight)

    def _shape(self, level: LevelOutput, index: int, assigned: "_Assigned") -> Tensor:
        """Guided anchoring: at the box's cell, the best prior's slot and the anchor-free slot
        both learn the box's shape, whichever slot got the box, so the anchor-free branch can
        start to win boxes. `l1_log`: L1 in log space (scale-free, never saturates);
        `iou_squared`: 1 - IoU_wh^2 of the slot's prior (base x exp(shape)) and the box."""
        shape_pred = level.shape_pred.float()
        cell = (assigned.cell_y, assigned.cell_x)
        bases = self._slot_bases(level, index).to(shape_pred)
        free_slot = torch.full_like(assigned.prior_slot, ANCHOR_FREE_SLOT)
        total = shape_pred.new_zeros(())
        for slot in (assigned.prior_slot, free_slot):
            predicted = shape_pred[(assigned.image, slot, *cell)]
            if self.shape_loss_form == "l1_log":
                per_box = (predicted - torch.log(assigned.box_wh / bases[slot])).abs().sum(dim=1)
            else:
                per_box = 1.0 - wh_iou(bases[slot] * predicted.exp(), assigned.box_wh).square()
            weighted = per_box * self._term_weight(assigned)
            if self.shared_prediction == "last_box":
                weighted = weighted[assigned.last_at(slot)]
            total = total + weighted.sum()
        return total


class _Assigned:
    """The K boxes assigned to one level: where they are predicted and what they are."""

    PER_BOX = ("image", "slot", "prior_slot", "cell_x", "cell_y", "labels", "boxes", "weight", "centre", "box_wh")

    def __init__(self, assignment: Assignment, targets: Tensor, rows: Tensor) -> None:
        self.count = int(rows.numel())
        self.image = assignment.image[rows]
        self.slot = assignment.slot[rows]
        self.prior_slot = assignment.prior_slot[rows]
        self.cell_x = assignment.cell_x[rows]
        self.cell_y = assignment.cell_y[rows]
        self.labels = targets[rows, 1].long()
        self.boxes = targets[rows, 2:6]
        self.weight = targets[rows, 6]
        self.centre = (self.boxes[:, :2] + self.boxes[:, 2:]) / 2
        self.box_wh = (self.boxes[:, 2:] - self.boxes[:, :2]).clamp(min=1e-6)

    def select(self, keep: Tensor) -> "_Assigned":
        """The boxes where `keep` (K,) bool is true."""
        chosen = copy.copy(self)
        for name in self.PER_BOX:
            setattr(chosen, name, getattr(self, name)[keep])
        chosen.count = int(keep.sum())
        return chosen

    def last_at(self, slot: Tensor) -> Tensor:
        """(K,) bool: whether each box is the last listed of those at its (image, `slot`, cell)."""
        keys = torch.stack((self.image, slot, self.cell_y, self.cell_x), dim=1)
        if self.count == 0:
            return torch.ones(0, dtype=torch.bool, device=keys.device)
        _, group = torch.unique(keys, dim=0, return_inverse=True)
        order = torch.arange(self.count, device=keys.device)
        last = torch.full((int(group.max()) + 1,), -1, dtype=torch.long, device=keys.device)
        last = last.scatter_reduce(0, group, order, "amax")
        return last[group] == order

    def flat_index(self, pred_shape: torch.Size) -> Tensor:
        """Index into a flattened (B, S, H, W) tensor."""
        _, slots, height, width = pred_shape[:4]
        return ((self.image * slots + self.slot) * height + self.cell_y) * width + self.cell_x


def _boxes_per_image(image_index: Tensor, boxes: Tensor, batch: int) -> tuple[Tensor, Tensor]:
    """Pad the boxes of each image into (B, G, 4) with a (B, G) validity mask, G = most per image."""
    counts = torch.bincount(image_index, minlength=batch)
    most = int(counts.max()) if counts.numel() else 0
    padded = boxes.new_zeros(batch, max(most, 1), 4)
    valid = torch.zeros(batch, max(most, 1), dtype=torch.bool, device=boxes.device)
    if image_index.numel():
        order = torch.argsort(image_index, stable=True)
        sorted_images = image_index[order]
        starts = torch.cumsum(counts, dim=0) - counts
        rank = torch.arange(order.numel(), device=boxes.device) - starts[sorted_images]
        padded[sorted_images, rank] = boxes[order]
        valid[sorted_images, rank] = True
    return padded, valid
