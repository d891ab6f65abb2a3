"""Helpers shared by the plain and the guided YOLO level heads."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

# Initial probabilities: objectness 0.01 (most cells are background), each class 1/C (at most
# 0.5), so that the first losses are sane instead of starting from sigmoid(0) = 0.5 everywhere.
OBJECTNESS_PRIOR = 0.01


def class_prior(num_classes: int) -> float:
    return min(0.5, 1.0 / num_classes)


def logit(probability: float) -> float:
    return math.log(probability / (1.0 - probability))


def init_prediction_conv(conv: nn.Conv2d, num_slots: int, num_classes: int) -> None:
    """Small weights; box biases 0, objectness and class biases at the logits of their priors."""
    nn.init.normal_(conv.weight, std=0.01)
    with torch.no_grad():
        bias = conv.bias.view(num_slots, 5 + num_classes)
        bias.zero_()
        bias[:, 4] = logit(OBJECTNESS_PRIOR)
        bias[:, 5:] = logit(class_prior(num_classes))


def to_slots(x: Tensor, num_slots: int) -> Tensor:
    """(B, S*K, H, W) -> (B, S, H, W, K), contiguous."""
    batch, channels, height, width = x.shape
    return x.view(batch, num_slots, channels // num_slots, height, width).permute(0, 1, 3, 4, 2).contiguous()
