"""What a detector returns: the contract between the model, the loss and the post-processing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from torch import Tensor


@dataclass
class LevelOutput:
    """Raw predictions of one pyramid level.

    S is the number of prediction slots per cell: 3 anchor-based slots, plus 1 anchor-free slot
    when guided anchoring is on. Levels are ordered stride 32, 16, 8 (index 0 = coarsest).

    pred:       (B, S, H, W, 5 + C) raw outputs: tx, ty, tw, th, objectness logit, class logits.
    anchors:    (B, S, H, W, 2) the (w, h) in input pixels that tw/th are relative to: the fixed
                COCO priors of this level (broadcast), or with guided anchoring the predicted
                shapes (prior * exp(shape) for slots 0..2, stride * 4 * exp(shape) for slot 3).
    shape_pred: (B, S, H, W, 2) raw log-scale shape prediction (guided anchoring only), so the
                loss can supervise it; None otherwise.
    stride:     input pixels per cell.

    Decoding: cx = (sigmoid(tx) + grid_x) * stride, cy likewise, w = anchor_w * exp(tw),
    h = anchor_h * exp(th), score = sigmoid(obj) * sigmoid(class).
    """

    pred: Tensor
    anchors: Tensor
    shape_pred: Optional[Tensor]
    stride: int


@dataclass
class DetectorOutput:
    levels: list[LevelOutput]
    # Per level (B, 3, H, W): the softmax fusion weights (alpha, beta, gamma) when asked for and the
    # fusion is adaptive; None otherwise.
    fusion_weights: Optional[list[Tensor]] = None


@dataclass
class AnchorFreeLevel:
    """Raw predictions of one level of the anchor-free family (YOLOv8-style decoupled head).

    pred:    (B, 4 * reg_max + C, H, W): per cell, the box branch's 4 x reg_max distribution
             logits (sides left, top, right, bottom, each over bins 0..reg_max-1, in stride
             units) followed by the class branch's C logits, the layout of ultralytics' Detect.
    stride:  input pixels per cell.
    reg_max: bins per side of the distribution focal loss (16 in YOLOv8).

    Decoding: the anchor point of cell (x, y) is ((x + 0.5), (y + 0.5)) in cells; each side's
    distance is the softmax over its bins projected on 0..reg_max-1; the box is
    (point - (left, top), point + (right, bottom)) x stride; score = sigmoid(class logit).
    A `DetectorOutput` of this family holds these in `levels`, ordered stride 32, 16, 8 as for
    YOLOv3, so the pipeline's level order never depends on the family.
    """

    pred: Tensor
    stride: int
    reg_max: int = 16
