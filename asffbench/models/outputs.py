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
