"""The training loop: one object owning model, optimizer, schedule, scaler, EMA and hooks.

`Trainer.train_step` is the one training step: `train_epoch` runs it, and `bench --mode train`
times it (bench/train_step.py), passing a `StepPhases` that synchronizes the device and stamps
the time after each phase; the default `StepPhases` does nothing. After every step the trainer
calls its hooks' `after_step` (engine/hooks.py: the EMA update, then the log line), after every
epoch their `after_epoch` (runs/training.py's: checkpoint and epoch line, evaluation, barrier),
in order.

`Trainer.state_dict()` is everything a resumed run needs to continue bit for bit on CPU:
weights, optimizer moments, scheduler position, AMP scaler, EMA and every RNG state.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import fields, replace
from typing import Any, Iterable, Optional, Sequence

import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.swa_utils import AveragedModel

from asffbench.engine.checkpoint import contiguous_state, optional_state, rng_states
from asffbench.engine.distributed import all_reduce_mean, unwrap
from asffbench.engine.hooks import Hook, StepInfo
from asffbench.engine.logging import TrainLogger
from asffbench.errors import UserError
from asffbench.memory import PeakMemory, larger_peak

CHECKPOINT_FORMAT = "asffbench-checkpoint/1"
# The phases of a step, in order, as `StepPhases.end` is told them.
PHASES = ("forward", "loss", "backward", "optimizer")
AUTOCAST_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


class NonFiniteLossError(UserError):
    """The loss became NaN or infinite: the run stops (a failed record), never a NaN model."""


class StepPhases:
    """Told when a step starts and when each of its PHASES ends; this default does nothing."""

    def start(self) -> None:
        pass

    def end(self, phase: str) -> None:
        pass


NO_PHASES = StepPhases()


class Trainer:
    def __init__(
        self,
        model: nn.Module,
        criterion: nn.Module,
        optimizer: Optimizer,
        scheduler: LRScheduler,
        *,
        device: torch.device,
        iters_per_epoch: int,
        world_size: int = 1,
        precision: str = "fp32",
        grad_clip: Optional[float] = None,
        ema: Optional[AveragedModel] = None,
        logger: Optional[TrainLogger] = None,
        hooks: Sequence[Hook] = (),
        channels_last: bool = False,
    ) -> None:
        self.model = model
        self.criterion = criterion
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.device = device
        self.iters_per_epoch = iters_per_epoch
        self.world_size = world_size
        # fp32, or autocast to fp16 (with the gradient scaler) or bf16 for the forward pass.
        self.autocast_dtype = AUTOCAST_DTYPES.get(precision)
        self.scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
        self.grad_clip = grad_clip
        # The batches' memory format: channels-last when the model is (train.channels_last), so
        # that no convolution has to convert; else as the loader made them.
        self.input_format = torch.channels_last if channels_last else torch.preserve_format
        self.ema = ema
        self.logger = logger
        self.hooks: list[Hook] = list(hooks)  # per-step and per-epoch, in order
        self.epoch = 0  # epochs completed
        self.global_iter = 0
        # The iteration of the last optimizer step; gradients accumulate until the next one.
        self.last_optimizer_iter = -1
        self.peak_memory: Optional[dict] = None  # the largest epoch peak of this process's epochs

    # --- the epochs -------------------------------------------------------------------------
    def fit(self, loader: Iterable, epochs: int, hooks: Sequence[Hook] = ()) -> Optional[float]:
        """Train from epoch `self.epoch` up to `epochs`, with `hooks` after the trainer's own;
        returns the last epoch's mean loss (None when no epoch was left to run)."""
        own = self.hooks
        self.hooks = [*own, *hooks]  # for this call only
        try:
            final_loss = None
            for epoch in range(self.epoch, epochs):
                summary = self.train_epoch(loader, epoch)
                final_loss = summary["loss"]
                for hook in self.hooks:
                    hook.after_epoch(self, epoch, summary)
            return final_loss
        finally:
            self.hooks = own

    # --- one epoch -------------------------------------------------------------------------
    def train_epoch(self, loader: Iterable, epoch: int, phases: StepPhases = NO_PHASES) -> dict[str, Any]:
        """Run one epoch (at most `iters_per_epoch` batches); returns its summary. `phases` is
        told where each step's phases end (a benchmark's split of whole epochs)."""
        unwrap(self.model).set_epoch(epoch)
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        self.model.train()
        for hook in self.hooks:
            hook.before_epoch(self, epoch)
        started = time.perf_counter()
        images_seen = 0
        loss_sum, steps = 0.0, 0
        peak = PeakMemory(self.device).start()
        for index, (images, targets, _metas) in enumerate(itertools.islice(loader, self.iters_per_epoch)):
            step = self.train_step(images, targets, epoch, index, phases)
            images_seen += step.images
            loss_sum += step.loss
            steps += 1
        seconds = time.perf_counter() - started
        peak.stop()
        self.peak_memory = larger_peak(self.peak_memory, peak.result())
        self.epoch = epoch + 1
        return {
            "loss": loss_sum / max(1, steps),
            "iters": steps,
            "seconds": seconds,
            "images_per_s": images_seen / max(seconds, 1e-9),
            "lr": self.optimizer.param_groups[0]["lr"],
            "peak_memory": peak.result(),
        }

    # --- one step ----------------------------------------------------------------------------
    def train_step(self, images: Tensor, targets: Tensor, epoch: int, index: int = 0,
                   phases: StepPhases = NO_PHASES) -> StepInfo:
        """Forward, loss (checked finite), backward, optimizer step (gradient clipping, scaler,
        LR schedule), then the per-step hooks; `phases` is told where each phase ends."""
        lr = self.optimizer.param_groups[0]["lr"]  # the LR this step uses
        phases.start()
        images = images.to(self.device, non_blocking=True, memory_format=self.input_format)
        targets = targets.to(self.device, non_blocking=True)
        with torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype or torch.float16,
                            enabled=self.autocast_dtype is not None):
            output = self.model(images)
        phases.end("forward")
        # The loss runs in fp32 whatever the forward pass used.
        loss, parts = self.criterion([as_float(level) for level in output.levels], targets)
        if self.world_size > 1:
            loss = loss + zero_touching(output.levels)
        self.check_finite(loss, epoch)
        phases.end("loss")

        self.scaler.scale(loss).backward()
        phases.end("backward")
        stepped = self.global_iter - self.last_optimizer_iter >= self.accumulation()
        if stepped:
            self.optimizer_step()
        self.scheduler.step()
        self.global_iter += 1
        step = StepInfo(epoch=epoch, index=index, loss=float(loss.detach()),
                        parts={k: float(v) for k, v in parts.items() if k != "total"}, lr=lr,
                        images=images.shape[0] * self.world_size, optimizer_stepped=stepped)
        for hook in self.hooks:
            hook.after_step(self, step)
        phases.end("optimizer")
        return step

    def accumulation(self) -> int:
        """Batches whose gradients make one optimizer step: the schedule's when it has one
        (the ultralytics recipe's nominal batch, `engine.epoch_schedule`), else 1."""
        return int(getattr(self.scheduler, "accumulate", 1))

    def optimizer_step(self) -> None:
        """Clip (when asked), step, and clear the gradients the step used."""
        if self.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.last_optimizer_iter = self.global_iter

    def check_finite(self, loss: Tensor, epoch: int) -> None:
        # A NaN on any rank reaches every rank through the sum, so all of them stop together.
        value = float(all_reduce_mean(loss.detach().float()))
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"train: non-finite loss ({value}) at epoch {epoch + 1}, iteration {self.global_iter + 1}; "
                "lower train.lr, raise train.warmup_epochs or set train.grad_clip"
            )

    # --- checkpoint state --------------------------------------------------------------------
    def state_dict(self, config: Optional[dict] = None) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "global_iter": self.global_iter,
            "iters_per_epoch": self.iters_per_epoch,
            "model": contiguous_state(unwrap(self.model).state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": optional_state(self.ema),
            "rng": rng_states(),
            "config": config,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore everything but the RNG states (the caller restores those last)."""
        unwrap(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        self.epoch = int(state["epoch"])
        self.global_iter = int(state["global_iter"])

    def final_model(self) -> nn.Module:
        """The model to evaluate: the EMA weights when EMA is on."""
        return self.ema.module if self.ema is not None else unwrap(self.model)


def zero_touching(levels: list[Any]) -> Tensor:
    """0 x every output: under DDP each rank's backward must reach every parameter that feeds
    an output, and some batches leave a level's guided-anchoring shape branch out of the loss."""
    return 0.0 * sum(tensor.float().sum() for level in levels for tensor in level_tensors(level).values())


def level_tensors(level: Any) -> dict[str, Tensor]:
    """The tensor fields of a level output (`LevelOutput`'s pred, anchors, shape_pred when set;
    `AnchorFreeLevel`'s pred)."""
    return {field.name: getattr(level, field.name) for field in fields(level)
            if isinstance(getattr(level, field.name), Tensor)}


def as_float(level: Any) -> Any:
    """The level with its tensors in fp32 (the loss runs in fp32 whatever the forward used)."""
    if level.pred.dtype == torch.float32:
        return level
    return replace(level, **{name: tensor.float() for name, tensor in level_tensors(level).items()})
