"""What the trainer calls around its steps and epochs, as hooks, in the order they are listed.

A `Hook` may act before an epoch, after every training step and after every epoch; each method
does nothing by default. The trainer's own list (train_builders.py) holds the per-step hooks
that are part of a training step wherever it runs (the EMA update: `bench --mode train` times
it too); train.py adds logging, checkpoint, evaluation and the barrier. Their order is today's:
per step the EMA update, then the log line; per epoch the checkpoint with the epoch line, the
evaluation, the barrier.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from torch.optim.swa_utils import AveragedModel

from asffbench.engine.distributed import unwrap

# The trainer passes itself (typed Any: this module sits below trainer.py and must not import it).
Trainer = Any


@dataclass(frozen=True)
class StepInfo:
    """One finished training step, as the per-step hooks see it."""

    epoch: int
    index: int  # within the epoch
    loss: float
    parts: dict[str, float]
    lr: float  # the learning rate the step used
    images: int  # images of the step over all processes
    optimizer_stepped: bool = True  # false while gradients accumulate (a nominal batch)


class Hook:
    def before_epoch(self, trainer: Trainer, epoch: int) -> None:
        pass

    def after_step(self, trainer: Trainer, step: StepInfo) -> None:
        pass

    def after_epoch(self, trainer: Trainer, epoch: int, summary: dict) -> None:
        pass


class EmaUpdate(Hook):
    """The EMA weights follow the model after every optimizer step."""

    def __init__(self, ema: AveragedModel) -> None:
        self.ema = ema

    def after_step(self, trainer: Trainer, step: StepInfo) -> None:
        if step.optimizer_stepped:
            self.ema.update_parameters(unwrap(trainer.model))


class StepLog(Hook):
    """A log line every `every` steps and at an epoch's last step, with the images/s since the
    previous line (rank 0 writes; the logger is `trainer.logger`, none in a bench)."""

    def __init__(self, every: int) -> None:
        self.every = max(1, every)
        self.window_start = time.perf_counter()
        self.window_images = 0

    def before_epoch(self, trainer: Trainer, epoch: int) -> None:
        self.window_start, self.window_images = time.perf_counter(), 0

    def after_step(self, trainer: Trainer, step: StepInfo) -> None:
        self.window_images += step.images
        if trainer.logger is None or not (step.index % self.every == 0 or step.index == trainer.iters_per_epoch - 1):
            return
        elapsed = time.perf_counter() - self.window_start
        trainer.logger.step(
            epoch=step.epoch, global_iter=trainer.global_iter - 1, loss=step.loss, parts=step.parts,
            lr=step.lr, images_per_s=self.window_images / max(elapsed, 1e-9),
        )
        self.window_start, self.window_images = time.perf_counter(), 0


class EpochHook(Hook):
    """A plain function (trainer, epoch, summary) run after every epoch."""

    def __init__(self, action: Callable[[Trainer, int, dict], None]) -> None:
        self.action = action

    def after_epoch(self, trainer: Trainer, epoch: int, summary: dict) -> None:
        self.action(trainer, epoch, summary)
