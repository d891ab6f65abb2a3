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

import math
from typing import NamedTuple

import torch
from torch import Tensor
from torchvision.ops import box_convert


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
        overlaps = torch.where(candidates, pairwise_ciou(gt_boxes, pred_boxes).clamp(min=0), 0.0)
        # Zero off the candidates, as overlaps is (the powers of the scores are finite).
        metric = self.class_scores_pow_alpha(scores, gt_labels) * power(overlaps, self.beta)
        positive = self.top_candidates(metric, gt_valid) & candidates
        positive = self.one_truth_per_point(positive, overlaps)
        foreground, gt_index = positive.max(dim=1)
        return self.targets(gt_labels, gt_boxes, gt_index, foreground, metric, overlaps, positive)

    def points_inside(self, points: Tensor, gt_boxes: Tensor) -> Tensor:
        """(B, G, A): the point lies strictly inside the box (sides floored at `min_side`); each
        side compared on its own axis, never a (B, G, A, 4) tensor."""
        centre_size = box_convert(gt_boxes, "xyxy", "cxcywh")
        centre_size[..., 2:] = centre_size[..., 2:].clamp(min=self.min_side)
        left, top, right, bottom = box_convert(centre_size, "cxcywh", "xyxy")[..., None].unbind(-2)  # (B, G, 1)
        x, y = points[:, 0], points[:, 1]
        return ((x - left > self.eps) & (y - top > self.eps)) & ((right - x > self.eps) & (bottom - y > self.eps))

    def class_scores_pow_alpha(self, scores: Tensor, gt_labels: Tensor) -> Tensor:
        """(B, G, A): each point's score of each ground truth's class, to the power alpha; the
        power taken on the smaller of (B, A, C) and (B, G, A), the same values either way."""
        per_class = scores.transpose(1, 2)  # (B, C, A)
        if per_class.shape[1] <= gt_labels.shape[1]:
            per_class = per_class.pow(self.alpha)
        batch = torch.arange(gt_labels.shape[0], device=gt_labels.device)[:, None]
        class_scores = per_class[batch, gt_labels]  # (B, G, A)
        return class_scores if per_class.shape[1] <= gt_labels.shape[1] else class_scores.pow(self.alpha)

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
        best_overlap = (overlaps * positive).amax(dim=-1)  # (B, G)
        best_metric = (metric * positive).amax(dim=-1)
        # A point is positive for one ground truth at most: normalise at its own, (B, A) only.
        own = metric.gather(1, gt_index[:, None])[:, 0]
        normalised = own * best_overlap.gather(1, gt_index) / (best_metric.gather(1, gt_index) + self.eps)
        scores = metric.new_zeros((*labels.shape, self.num_classes)).scatter_(
            -1, labels[..., None], (normalised * foreground)[..., None])  # one-hot x normalised metric
        return Assignment(labels, boxes, scores, foreground, gt_index)

    def background(self, scores: Tensor, pred_boxes: Tensor) -> Assignment:
        """No ground truth in the batch: every point is background."""
        batch, num_points = scores.shape[:2]
        zeros = torch.zeros((batch, num_points), dtype=torch.long, device=scores.device)
        return Assignment(zeros, torch.zeros_like(pred_boxes), torch.zeros_like(scores),
                          zeros.bool(), zeros)


def power(values: Tensor, exponent: float) -> Tensor:
    """values ** exponent; a whole exponent up to 8 by multiplications (torch's pow takes a general,
    several times slower path for any exponent but 0.5, 2 and 3; the results differ from it in the
    last bits only)."""
    if exponent != int(exponent) or not 1 <= exponent <= 8:
        return values.pow(exponent)
    result, square, remaining = None, values, int(exponent)
    while remaining:  # binary exponentiation: beta = 6 is (x^2) x (x^2)^2
        if remaining & 1:
            result = square if result is None else result * square
        remaining >>= 1
        if remaining:
            square = square * square
    return result


def pairwise_ciou(boxes1: Tensor, boxes2: Tensor, eps: float = 1e-7) -> Tensor:
    """(B, N, 4) and (B, M, 4) xyxy -> (B, N, M) complete IoU (Zheng et al., arXiv 1911.08287) in
    ultralytics' form (heights floored at eps). What depends on one box alone (sizes, areas,
    centres, aspect angles) is computed once per box; only the pairwise terms are (B, N, M)."""
    x1, y1, x2, y2 = boxes1[..., None].unbind(-2)  # (B, N, 1) each
    u1, v1, u2, v2 = boxes2[:, None].unbind(-1)  # (B, 1, M) each
    w1, h1 = x2 - x1, (y2 - y1).clamp(min=eps)
    w2, h2 = u2 - u1, (v2 - v1).clamp(min=eps)
    # In place where a (B, N, M) temporary can be reused: they dominate the assigner's time.
    inter = torch.minimum(x2, u2).sub_(torch.maximum(x1, u1)).clamp_(min=0).mul_(
        torch.minimum(y2, v2).sub_(torch.maximum(y1, v1)).clamp_(min=0))
    iou = (w1 * h1 + w2 * h2).sub_(inter).add_(eps).reciprocal_().mul_(inter)
    enclosing = torch.maximum(x2, u2).sub_(torch.minimum(x1, u1)).square_().add_(
        torch.maximum(y2, v2).sub_(torch.minimum(y1, v1)).square_()).add_(eps).mul_(4)
    centres = ((u1 + u2) - (x1 + x2)).square_().add_(((v1 + v2) - (y1 + y2)).square_()).div_(enclosing)
    aspect = (torch.atan(w2 / h2) - torch.atan(w1 / h1)).square_().mul_(4 / math.pi**2)
    alpha = (aspect - iou).add_(1 + eps).reciprocal_().mul_(aspect)
    return iou.sub_(centres.add_(alpha.mul_(aspect)))
