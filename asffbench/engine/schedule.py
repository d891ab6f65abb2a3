"""Per-iteration learning-rate schedules with linear warm-up: cosine or step."""

from __future__ import annotations

import math
from typing import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

# Warm-up starts from this fraction of the base LR (0 would waste the first step).
WARMUP_START = 1e-3


class WarmupCosine:
    """LR factor: linear warm-up, then cosine from 1 down to `min_ratio` at `total_iters`."""

    def __init__(self, total_iters: int, warmup_iters: int, min_ratio: float) -> None:
        self.total_iters = max(1, int(total_iters))
        self.warmup_iters = max(0, min(int(warmup_iters), self.total_iters))
        self.min_ratio = float(min_ratio)

    def __call__(self, it: int) -> float:
        if it < self.warmup_iters:
            return warmup_factor(it, self.warmup_iters)
        span = max(1, self.total_iters - self.warmup_iters)
        progress = min(1.0, (it - self.warmup_iters) / span)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupStep:
    """LR factor: linear warm-up, then x0.1 at each milestone iteration."""

    def __init__(self, warmup_iters: int, milestones: Sequence[int], gamma: float = 0.1) -> None:
        self.warmup_iters = max(0, int(warmup_iters))
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)

    def __call__(self, it: int) -> float:
        if it < self.warmup_iters:
            return warmup_factor(it, self.warmup_iters)
        return self.gamma ** sum(1 for m in self.milestones if it >= m)


def warmup_factor(it: int, warmup_iters: int) -> float:
    return WARMUP_START + (1.0 - WARMUP_START) * it / warmup_iters


def build_scheduler(
    optimizer: Optimizer,
    *,
    epochs: int,
    iters_per_epoch: int,
    warmup_epochs: float,
    cosine: bool,
    base_lr: float,
    min_lr: float,
    step_milestones: Sequence[float],
) -> LambdaLR:
    """A scheduler stepped once per iteration; `min_lr` and milestones are in epochs' terms.

    Milestones are fractions of the run (0.8 = after 80% of the epochs). The factor objects are
    plain classes so LambdaLR's state dict (and so a checkpoint) carries them.
    """
    total = epochs * iters_per_epoch
    warmup = round(warmup_epochs * iters_per_epoch)
    if cosine:
        factor = WarmupCosine(total, warmup, min_lr / base_lr if base_lr > 0 else 0.0)
    else:
        factor = WarmupStep(warmup, [round(f * total) for f in step_milestones])
    return LambdaLR(optimizer, lr_lambda=factor)
