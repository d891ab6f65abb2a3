"""The per-epoch schedule of the ultralytics recipe (`recipe.lr_decay=per_epoch`).

The learning rate is set once per epoch, lr0 x f(epoch), f linear (or cosine, one-cycle form)
from 1 down to `lrf` over the run. A warm-up of whole iterations rises to it: the LR of every
group from 0, except the biases' group, which falls from `warmup_bias_lr`; the momentum from
`warmup_momentum`; and the number of batches whose gradients are accumulated before an
optimizer step from 1 to the nominal batch's. The warm-up ends on its targets exactly at its
last iteration and never takes the run's last epoch.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer

DECAY_SHAPES = ("linear", "cosine")
BIAS_GROUP = "bias"  # the param group `engine.optim.param_groups(separate_bias=True)` names so


def warmup_iterations(warmup_epochs: float, epochs: int, iters_per_epoch: int) -> int:
    """Warm-up iterations: `warmup_epochs` of batches, leaving at least the last epoch unwarmed."""
    if warmup_epochs <= 0:
        return 0
    return round(min(warmup_epochs, max(epochs - 1, 0)) * iters_per_epoch)


def nominal_accumulation(nominal_batch: int, batch: int) -> int:
    """Batches whose gradients make one optimizer step, so a step sees about `nominal_batch` images."""
    return max(round(nominal_batch / batch), 1)


def nominal_weight_decay(weight_decay: float, nominal_batch: int, batch: int) -> float:
    """Weight decay scaled to the images one optimizer step really sees (batch x accumulation)."""
    return weight_decay * batch * nominal_accumulation(nominal_batch, batch) / nominal_batch


def interpolate(position: float, start: float, end: float) -> float:
    return start + (end - start) * position


class EpochDecay:
    """LR, momentum and gradient accumulation per iteration; `step()` after every iteration.

    Holds the iteration count only: the rest is derived, so a checkpoint's state is one number.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        epochs: int,
        iters_per_epoch: int,
        lrf: float,
        shape: str = "linear",
        warmup_epochs: float = 3.0,
        warmup_bias_lr: float = 0.1,
        warmup_momentum: float = 0.8,
        accumulate: int = 1,
    ) -> None:
        if shape not in DECAY_SHAPES:
            raise ValueError(f"LR decay shape must be one of {DECAY_SHAPES}, got {shape!r}")
        self.optimizer = optimizer
        self.epochs = max(1, int(epochs))
        self.iters_per_epoch = max(1, int(iters_per_epoch))
        self.lrf = float(lrf)
        self.shape = shape
        self.warmup_iters = warmup_iterations(warmup_epochs, self.epochs, self.iters_per_epoch)
        self.warmup_bias_lr = float(warmup_bias_lr)
        self.warmup_momentum = float(warmup_momentum)
        # Never more batches per step than the run has.
        self.nominal_accumulate = min(max(1, int(accumulate)), self.epochs * self.iters_per_epoch)
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
            group.setdefault("target_momentum", group.get("momentum", 0.0))
        self.accumulate = 1
        self.iteration = 0
        self.apply(0)

    def factor(self, epoch: int) -> float:
        """lr / lr0 of an epoch after the warm-up."""
        if self.shape == "cosine":
            return ((1 - math.cos(epoch * math.pi / self.epochs)) / 2) * (self.lrf - 1) + 1
        return max(1 - epoch / self.epochs, 0) * (1.0 - self.lrf) + self.lrf

    def apply(self, iteration: int) -> None:
        """Set every group's LR (and during the warm-up its momentum) for `iteration`."""
        target = self.factor(iteration // self.iters_per_epoch)
        warming = self.warmup_iters > 0 and iteration <= self.warmup_iters
        # Past the warm-up everything sits on its target, as at the warm-up's last iteration.
        position = iteration / self.warmup_iters if warming else 1.0
        self.accumulate = max(1, round(interpolate(position, 1, self.nominal_accumulate)))
        for group in self.optimizer.param_groups:
            start = self.warmup_bias_lr if group.get("name") == BIAS_GROUP else 0.0
            group["lr"] = interpolate(position, start, group["initial_lr"] * target)
            if "momentum" in group:
                group["momentum"] = interpolate(position, self.warmup_momentum, group["target_momentum"])

    def step(self) -> None:
        self.iteration += 1
        self.apply(self.iteration)

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"iteration": self.iteration}

    def load_state_dict(self, state: dict) -> None:
        self.iteration = int(state["iteration"])
        self.apply(self.iteration)
