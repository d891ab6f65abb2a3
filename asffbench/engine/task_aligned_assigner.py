"""Task-aligned assignment (TOOD, arXiv 2108.07755) as YOLOv8 trains with it.

For every ground truth g and anchor point a of g's image, the alignment metric is
`score(a, class of g) ** alpha * CIoU(g, box(a)) ** beta` (CIoU clamped at 0), counted only where
a's point lies inside g (a side shorter than `min_side` counts as `min_side`, about the box's
centre). Each ground truth takes the `topk` points of highest metric among those; a point taken by
several keeps the ground truth it overlaps most (the first in the given order on a tie). A
positive's target score is its class one-hot times its metric normalised per ground truth (metric
x that ground truth's best CIoU over its positives / its best metric). Dense over (ground truth,
point of its image), the ground truths as the M rows given (no padding to the batch's largest
count, so no host sync and no work on padding): no loop.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor
from torchvision.ops import box_convert


class Assignment(NamedTuple):
    labels: Tensor  # (B, A) long: the class of the assigned ground truth (0 where none)
    boxes: Tensor  # (B, A, 4) xyxy: its box, in the units of the ground truths (zeros where none)
    scores: Tensor  # (B, A, C): the soft classification targets (zero off the foreground)
    foreground: Tensor  # (B, A) bool
    gt_index: Tensor  # (B, A) long: the assigned ground truth's row (0 where none)


class TaskAlignedAssigner:
    """`assigner(scores, pred_boxes, points, gt_image, gt_labels, gt_boxes) -> Assignment`.

    scores:     (B, A, C) predicted class probabilities (detached).
    pred_boxes: (B, A, 4) predicted xyxy boxes (detached), in the same units as the points and
                the ground truths (input pixels in the loss).
    points:     (A, 2) anchor points.
    gt_image:   (M,) long, each ground truth's image; gt_labels (M,) long; gt_boxes (M, 4) xyxy.
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
    def __call__(self, scores: Tensor, pred_boxes: Tensor, points: Tensor, gt_image: Tensor, gt_labels: Tensor,
                 gt_boxes: Tensor) -> Assignment:
        if gt_boxes.shape[0] == 0:
            return self.background(scores, pred_boxes)
        candidates = self.points_inside(points, gt_boxes)  # (M, A)
        overlaps = torch.where(candidates, truth_point_ciou(gt_boxes, pred_boxes, gt_image).clamp(min=0), 0.0)
        # Zero off the candidates, as overlaps is (the powers of the scores are finite).
        metric = self.class_scores_pow_alpha(scores, gt_image, gt_labels) * power(overlaps, self.beta)
        positive = self.top_candidates(metric) & candidates
        positive, foreground, gt_index = self.one_truth_per_point(positive, overlaps, gt_image, scores.shape[0])
        return self.targets(gt_labels, gt_boxes, gt_index, foreground, metric, overlaps, positive)

    def points_inside(self, points: Tensor, gt_boxes: Tensor) -> Tensor:
        """(M, A): the point lies strictly inside the box (sides floored at `min_side`); each
        side compared on its own axis, never an (M, A, 4) tensor."""
        centre_size = box_convert(gt_boxes, "xyxy", "cxcywh")
        centre_size[..., 2:] = centre_size[..., 2:].clamp(min=self.min_side)
        left, top, right, bottom = box_convert(centre_size, "cxcywh", "xyxy")[..., None].unbind(-2)  # (M, 1)
        x, y = points[:, 0], points[:, 1]
        return ((x - left > self.eps) & (y - top > self.eps)) & ((right - x > self.eps) & (bottom - y > self.eps))

    def class_scores_pow_alpha(self, scores: Tensor, gt_image: Tensor, gt_labels: Tensor) -> Tensor:
        """(M, A): each point's score of its image's ground truth's class, to the power alpha; the
        power taken on the smaller of (B, C, A) and (M, A), the same values either way."""
        batch, num_points, num_classes = scores.shape
        per_class = scores.transpose(1, 2).reshape(batch * num_classes, num_points)  # (B x C, A)
        early = batch * num_classes <= gt_labels.shape[0]
        if early:
            per_class = per_class.pow(self.alpha)
        class_scores = per_class.index_select(0, gt_image * num_classes + gt_labels)
        return class_scores if early else class_scores.pow(self.alpha)

    def top_candidates(self, metric: Tensor) -> Tensor:
        """(M, A) bool: each ground truth's `topk` points of highest metric."""
        top = metric.topk(min(self.topk, metric.shape[-1]), dim=-1).indices
        return torch.zeros_like(metric, dtype=torch.bool).scatter_(-1, top, True)

    @staticmethod
    def one_truth_per_point(positive: Tensor, overlaps: Tensor, gt_image: Tensor,
                            batch: int) -> tuple[Tensor, Tensor, Tensor]:
        """A point positive for several ground truths of its image keeps only the one it overlaps
        most (the first row on a tie). -> positive (M, A), foreground (B, A) and the kept ground
        truth's row (B, A)."""
        num_truths, num_points = positive.shape
        per_point = gt_image[:, None].expand(-1, num_points)  # (M, A): the (B, A) entry of each
        # Counts and row numbers in float32 (exact below 2^24): torch's float scatters are the fast ones.
        per_image = torch.zeros((batch, num_points), device=positive.device)
        count = per_image.scatter_add(0, per_point, positive.float())
        most = overlaps.new_zeros((batch, num_points)).scatter_reduce_(0, per_point, overlaps, "amax")
        rows = torch.arange(num_truths, device=positive.device, dtype=torch.float32)[:, None]
        first_most = torch.where(overlaps == most.index_select(0, gt_image), rows, num_truths)
        best = torch.full_like(per_image, num_truths).scatter_reduce_(0, per_point, first_most, "amin")
        positive = torch.where(count.index_select(0, gt_image) > 1, rows == best.index_select(0, gt_image), positive)
        kept = torch.full_like(per_image, -1).scatter_reduce_(0, per_point, torch.where(positive, rows, -1), "amax")
        return positive, count > 0, kept.clamp(min=0).long()

    def targets(self, gt_labels: Tensor, gt_boxes: Tensor, gt_index: Tensor, foreground: Tensor, metric: Tensor,
                overlaps: Tensor, positive: Tensor) -> Assignment:
        labels = gt_labels[gt_index] * foreground
        boxes = gt_boxes[gt_index] * foreground[..., None]
        best_overlap = (overlaps * positive).amax(dim=-1)  # (M,)
        best_metric = (metric * positive).amax(dim=-1)
        # A point is positive for one ground truth at most: normalise at its own, (B, A) only.
        own = metric.gather(0, gt_index)
        normalised = own * best_overlap[gt_index] / (best_metric[gt_index] + self.eps)
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


def truth_point_ciou(gt_boxes: Tensor, pred_boxes: Tensor, gt_image: Tensor, eps: float = 1e-7) -> Tensor:
    """(M, 4) ground truths and (B, A, 4) predicted boxes, xyxy -> (M, A) complete IoU (Zheng et
    al., arXiv 1911.08287) of each ground truth with every prediction of its image, in
    ultralytics' form (heights floored at eps). What depends on one box alone (sizes, areas,
    centres, aspect angles) is computed once per box; only the pairwise terms are (M, A)."""
    x1, y1, x2, y2 = gt_boxes[..., None].unbind(-2)  # (M, 1) each
    w1, h1 = x2 - x1, (y2 - y1).clamp(min=eps)
    u1, v1, u2, v2 = pred_boxes.unbind(-1)  # (B, A) each
    w2, h2 = u2 - u1, (v2 - v1).clamp(min=eps)
    # The predictions' own terms, (B, A) each, then each ground truth's image's: one gather.
    u1, v1, u2, v2, area2, u_sum, v_sum, angle2 = torch.stack(
        (u1, v1, u2, v2, w2 * h2, u1 + u2, v1 + v2, torch.atan(w2 / h2))).index_select(1, gt_image).unbind(0)  # (M, A) each
    # In place where an (M, A) temporary can be reused: they dominate the assigner's time.
    inter = torch.minimum(x2, u2).sub_(torch.maximum(x1, u1)).clamp_(min=0).mul_(
        torch.minimum(y2, v2).sub_(torch.maximum(y1, v1)).clamp_(min=0))
    iou = (w1 * h1 + area2).sub_(inter).add_(eps).reciprocal_().mul_(inter)
    enclosing = torch.maximum(x2, u2).sub_(torch.minimum(x1, u1)).square_().add_(
        torch.maximum(y2, v2).sub_(torch.minimum(y1, v1)).square_()).add_(eps).mul_(4)
    centres = (u_sum - (x1 + x2)).square_().add_((v_sum - (y1 + y2)).square_()).div_(enclosing)
    aspect = (angle2 - torch.atan(w1 / h1)).square_().mul_(4 / math.pi**2)
    alpha = (aspect - iou).add_(1 + eps).reciprocal_().mul_(aspect)
    return iou.sub_(centres.add_(alpha.mul_(aspect)))
