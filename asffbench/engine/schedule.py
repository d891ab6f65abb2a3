"""Per-iteration learning-rate schedules: warm-up (linear, or the reference's power 4), then
cosine (with an optional flat phase before it and a constant phase at the end) or steps."""

from __future__ import annotations

import math
from typing import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

# Linear warm-up starts from this fraction of the base LR (0 would waste the first step).
WARMUP_START = 1e-3
WARMUP_FORMS = ("linear", "power4")


class WarmupCosine:
    """LR factor over iterations: warm-up to 1 over `warmup_iters`, 1 for `flat_iters`, cosine
    down to `min_ratio`, and `min_ratio` for the last `final_iters`. Phases that do not fit in
    `total_iters` are cut short, the latest first (cosine, then the flat phase)."""

    def __init__(
        self,
        total_iters: int,
        warmup_iters: int,
        min_ratio: float,
        warmup_form: str = "linear",
        flat_iters: int = 0,
        final_iters: int = 0,
    ) -> None:
        check_warmup_form(warmup_form)
        self.total_iters = max(1, int(total_iters))
        self.warmup_iters = max(0, min(int(warmup_iters), self.total_iters))
        self.min_ratio = float(min_ratio)
        self.warmup_form = warmup_form
        self.flat_iters = max(0, int(flat_iters))
        self.final_iters = max(0, int(final_iters))

    def __call__(self, it: int) -> float:
        if it < self.warmup_iters:
            return warmup_factor(it, self.warmup_iters, self.warmup_form)
        cosine_start = min(self.warmup_iters + self.flat_iters, self.total_iters)
        cosine_end = max(cosine_start, self.total_iters - self.final_iters)
        if it < cosine_start:
            return 1.0
        if it >= cosine_end:
            return self.min_ratio
        progress = (it - cosine_start) / (cosine_end - cosine_start)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupStep:
    """LR factor: warm-up, then x0.1 at each milestone iteration."""

    def __init__(
        self, warmup_iters: int, milestones: Sequence[int], gamma: float = 0.1, warmup_form: str = "linear"
    ) -> None:
        check_warmup_form(warmup_form)
        self.warmup_iters = max(0, int(warmup_iters))
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)
        self.warmup_form = warmup_form

    def __call__(self, it: int) -> float:
        if it < self.warmup_iters:
            return warmup_factor(it, self.warmup_iters, self.warmup_form)
        return self.gamma ** sum(1 for m in self.milestones if it >= m)


def warmup_factor(it: int, warmup_iters: int, form: str = "linear") -> float:
    """`linear`: from WARMUP_START up to 1; `power4`: (it / warmup_iters)^4, the reference's
    burn-in, which stays low for longer (a quarter of the way in: 0.4% of the LR)."""
    if form == "power4":
        return (it / warmup_iters) ** 4
    return WARMUP_START + (1.0 - WARMUP_START) * it / warmup_iters


def check_warmup_form(form: str) -> None:
    if form not in WARMUP_FORMS:
        raise ValueError(f"warm-up form must be one of {WARMUP_FORMS}, got {form!r}")


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
    warmup_form: str = "linear",
    flat_epochs: float = 0.0,
    final_epochs: float = 0.0,
) -> LambdaLR:
    """A scheduler stepped once per iteration; `min_lr` and milestones are in epochs' terms.

    Milestones are fractions of the run (0.8 = after 80% of the epochs); `flat_epochs` and
    `final_epochs` (the cosine's phases at the base LR and at `min_lr`) are epochs. The factor
    objects are plain classes so LambdaLR's state dict (and so a checkpoint) carries them.
    """
    total = epochs * iters_per_epoch
    warmup = round(warmup_epochs * iters_per_epoch)
    if cosine:
        factor = WarmupCosine(
            total, warmup, min_lr / base_lr if base_lr > 0 else 0.0, warmup_form,
            flat_iters=round(flat_epochs * iters_per_epoch), final_iters=round(final_epochs * iters_per_epoch),
        )
    else:
        factor = WarmupStep(warmup, [round(f * total) for f in step_milestones], warmup_form=warmup_form)
    return LambdaLR(optimizer, lr_lambda=factor)
