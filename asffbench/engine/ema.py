"""Exponential moving average of the weights (and BN statistics), on torch's AveragedModel."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

# The decay ramps up over the first updates so that early, random weights fade out quickly
# (decay * (1 - exp(-updates / RAMP))); without it a 0.9998 EMA of a short run is its init.
RAMP = 2000.0


def ramped_decay(decay: float, updates: int) -> float:
    return decay * (1.0 - math.exp(-updates / RAMP))


def ema_update_fn(decay: float):
    @torch.no_grad()
    def update(ema: Sequence[Tensor], current: Sequence[Tensor], num_averaged: Tensor) -> None:
        d = ramped_decay(decay, int(num_averaged))
        if torch.is_floating_point(ema[0]):
            torch._foreach_lerp_(list(ema), list(current), 1.0 - d)
        else:  # integer buffers (BatchNorm's num_batches_tracked) follow the model
            for e, c in zip(ema, current):
                e.copy_(c)

    return update


EMA_STARTS = ("copy", "ramp")


def build_ema(model: nn.Module, decay: float, start: str = "copy") -> AveragedModel:
    """EMA copy of `model` (weights and buffers); call `update_parameters(model)` each step.

    `start` (`recipe.ema_start`): `copy`, AveragedModel's own: the first update copies the model
    and the k-th blends with the ramped decay of k - 1; `ramp` (ultralytics' ModelEMA): the copy
    made here counts as the start, and the k-th update, the first included, blends with the
    ramped decay of k.
    """
    if start not in EMA_STARTS:
        raise ValueError(f"EMA start must be one of {EMA_STARTS}, got {start!r}")
    ema = AveragedModel(model, multi_avg_fn=ema_update_fn(decay), use_buffers=True)
    if start == "ramp":
        ema.n_averaged.fill_(1)
    ema.eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema
