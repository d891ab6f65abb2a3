"""Task-aligned assignment (TOOD, arXiv 2108.07755) as YOLOv8 trains with it.

For every ground truth g and anchor point a of one image, the alignment metric is
`score(a, class of g) ** alpha * CIoU(g, box(a)) ** beta` (CIoU clamped at 0), counted only where
a's point lies inside g (a side shorter than `min_side` counts as `min_side`, about the box's
centre). Each ground truth takes the `topk` points of highest metric among those; a point taken by
several keeps the ground truth it overlaps most. A positive's target score is its class one-hot
times its metric normalised per ground truth (metric x that ground truth's best CIoU over its
positives / its best metric). Dense over (image, ground truth, point): no loop, no host sync.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torchvision.ops import box_convert, complete_box_iou


class Assignment(NamedTuple):
    labels: Tensor  # (B, A) long: the class of the assigned ground truth (of ground truth 0 where none)
    boxes: Tensor  # (B, A, 4) xyxy: its box, in the units of the ground truths
    scores: Tensor  # (B, A, C): the soft classification targets (zero off the foreground)
    foreground: Tensor  # (B, A) bool
    gt_index: Tensor  # (B, A) long: the assigned ground truth's slot (0 where none)


class TaskAlignedAssigner:
    """`assigner(scores, pred_boxes, points, gt_labels, gt_boxes, gt_valid) -> Assignment`.

    scores:     (B, A, C) predicted class probabilities (detached).
    pred_boxes: (B, A, 4) predicted xyxy boxes (detached), in the same units as the points and
                the ground truths (input pixels in the loss).
    points:     (A, 2) anchor points.
    gt_labels:  (B, G) long; gt_boxes (B, G, 4) xyxy; gt_valid (B, G) bool (images are padded to
                the batch's largest number of ground truths G).
    """

    def __init__(self, num_classes: int, topk: int = 10, alpha: float = 0.5, beta: float = 6.0,
                 min_side: float = 16.0, eps: float = 1e-9) -> None:
        self.num_classes = num_classes
        self.topk = topk
        self.alpha = alpha
        self.beta = beta
        self.min_side = min_side  # ultralytics: the model's second stride
        self.eps = eps

    @torch.no_grad()
    def __call__(self, scores: Tensor, pred_boxes: Tensor, points: Tensor, gt_labels: Tensor, gt_boxes: Tensor,
                 gt_valid: Tensor) -> Assignment:
        if gt_boxes.shape[1] == 0:
            return self.background(scores, pred_boxes)
        candidates = self.points_inside(points, gt_boxes) & gt_valid[..., None]  # (B, G, A)
        overlaps = torch.where(candidates, complete_box_iou(gt_boxes, pred_boxes).clamp(min=0), 0.0)
        class_scores = scores.transpose(1, 2).gather(1, gt_labels[..., None].expand(-1, -1, scores.shape[1]))
        metric = torch.where(candidates, class_scores.pow(self.alpha) * overlaps.pow(self.beta), 0.0)
        positive = self.top_candidates(metric, gt_valid) & candidates
        positive = self.one_truth_per_point(positive, overlaps)
        foreground, gt_index = positive.max(dim=1)
        return self.targets(gt_labels, gt_boxes, gt_index, foreground, metric, overlaps, positive)

    def points_inside(self, points: Tensor, gt_boxes: Tensor) -> Tensor:
        """(B, G, A): the point lies strictly inside the box (sides floored at `min_side`)."""
        centre_size = box_convert(gt_boxes, "xyxy", "cxcywh")
        centre_size[..., 2:] = centre_size[..., 2:].clamp(min=self.min_side)
        enlarged = box_convert(centre_size, "cxcywh", "xyxy")[:, :, None, :]  # (B, G, 1, 4)
        inside = torch.cat((points - enlarged[..., :2], enlarged[..., 2:] - points), dim=-1)  # (B, G, A, 4)
        return inside.amin(dim=-1) > self.eps

    def top_candidates(self, metric: Tensor, gt_valid: Tensor) -> Tensor:
        """(B, G, A) bool: each real ground truth's `topk` points of highest metric."""
        top = metric.topk(min(self.topk, metric.shape[-1]), dim=-1).indices
        chosen = torch.zeros_like(metric, dtype=torch.bool).scatter_(-1, top, True)
        return chosen & gt_valid[..., None]

    @staticmethod
    def one_truth_per_point(positive: Tensor, overlaps: Tensor) -> Tensor:
        """A point positive for several ground truths keeps only the one it overlaps most."""
        shared = positive.sum(dim=1, keepdim=True) > 1  # (B, 1, A)
        best = torch.zeros_like(positive).scatter_(1, overlaps.max(dim=1).indices[:, None], True)
        return torch.where(shared, best, positive)

    def targets(self, gt_labels: Tensor, gt_boxes: Tensor, gt_index: Tensor, foreground: Tensor, metric: Tensor,
                overlaps: Tensor, positive: Tensor) -> Assignment:
        labels = gt_labels.gather(1, gt_index)
        boxes = gt_boxes.gather(1, gt_index[..., None].expand(-1, -1, 4))
        metric = metric * positive
        best_overlap = (overlaps * positive).amax(dim=-1, keepdim=True)  # (B, G, 1)
        best_metric = metric.amax(dim=-1, keepdim=True)
        normalised = (metric * best_overlap / (best_metric + self.eps)).amax(dim=1)  # (B, A)
        scores = metric.new_zeros((*labels.shape, self.num_classes)).scatter_(
            -1, labels[..., None], (normalised * foreground)[..., None])  # one-hot x normalised metric
        return Assignment(labels, boxes, scores, foreground, gt_index)

    def background(self, scores: Tensor, pred_boxes: Tensor) -> Assignment:
        """No ground truth in the batch: every point is background."""
        batch, num_points = scores.shape[:2]
        zeros = torch.zeros((batch, num_points), dtype=torch.long, device=scores.device)
        return Assignment(zeros, torch.zeros_like(pred_boxes), torch.zeros_like(scores),
                          zeros.bool(), zeros)
