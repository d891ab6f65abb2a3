"""The parts `train()` is assembled from, one builder each, in the order it calls them.

process (threads, device, DDP) -> resume state -> model + initial weights -> data ->
optimisation (EMA, DDP wrap, optimizer, scheduler, criterion: the `Trainer`) -> resume.
The order is part of the contract: the seed is set before the model draws its initial weights,
and a resumed run restores the RNG states last, after everything that draws from them.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn
from torch.optim import Optimizer

from asffbench.data.loaders import TrainDataSettings, build_train_loader
from asffbench.device import configure_cpu_threads
from asffbench.engine.anchor_free_loss import AnchorFreeLoss
from asffbench.engine.checkpoint import restore_rng_states, resumable_state
from asffbench.engine.distributed import DistEnv, init_distributed, process_device, wrap_ddp
from asffbench.engine.ema import build_ema
from asffbench.engine.epoch_schedule import EpochDecay, nominal_accumulation, nominal_weight_decay
from asffbench.engine.hooks import EmaUpdate
from asffbench.engine.loss import YOLOLoss
from asffbench.engine.optim import build_optimizer, scaled_lr
from asffbench.engine.schedule import build_scheduler
from asffbench.engine.trainer import Trainer
from asffbench.errors import UserError
from asffbench.settings import LossSettings, TrainerSettings
from asffbench.weights.load import load_source
from asffbench.weights.resolve import WeightsSource

# Seeds of ranks > 0 after a resume: apart from each other and from the epochs before.
RESUME_SEED_STRIDE = 7919


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds every CUDA device too


def setup_process(device: torch.device) -> tuple[torch.device, DistEnv]:
    """CPU threads, the device of this process (`device`, resolved from `device=` by the caller,
    refined to this rank's GPU) and its place in a DDP launch (if any)."""
    configure_cpu_threads()
    env = init_distributed(device)
    return process_device(device, env), env


def resume_state_of(resume: bool, checkpoint: Path, is_main: bool = True) -> Optional[dict]:
    """The checkpoint to continue from: `checkpoint` when `resume` (train.resume) and it can be read
    (an unreadable one is set aside with a warning: `checkpoint.resumable_state`)."""
    return resumable_state(checkpoint, is_main) if resume else None


def build_initial_model(build: Callable[[], nn.Module], source: Optional[WeightsSource], seed: int,
                        device: torch.device, env: DistEnv) -> nn.Module:
    """The model (`build()`, after seeding) with the weights training starts from (`source`:
    `resolve_weights(cfg, "train")`, i.e. train.checkpoint, model.weights or model.pretrained;
    None when resuming: the checkpoint replaces every tensor)."""
    seed_everything(seed + env.rank)
    model = build()
    if source is not None:
        load_source(model, source)
    return model.to(device)


# --- data -----------------------------------------------------------------------------------------
def build_data(data: TrainDataSettings, env: DistEnv):
    """The train loader of this rank; its length is capped by train.max_iters_per_epoch."""
    return build_train_loader(data, rank=env.rank, world_size=env.world_size)


# --- optimisation ---------------------------------------------------------------------------------
def build_yolo_loss(loss: LossSettings) -> nn.Module:
    return YOLOLoss(**loss.kwargs())


def build_anchor_free_loss(loss: LossSettings) -> nn.Module:
    return AnchorFreeLoss(loss.num_classes, **loss.anchor_free.kwargs())


# `LossSettings.kind` (the model's head's fact, settings.loss_kind) -> the criterion that trains it.
CRITERIA: dict[str, Callable[[LossSettings], nn.Module]] = {
    "yolov3": build_yolo_loss,
    "anchor_free": build_anchor_free_loss,
}


def build_criterion(loss: LossSettings) -> nn.Module:
    return CRITERIA[loss.kind](loss)


def train_precision(amp: bool, device: torch.device) -> str:
    """`train.amp`: fp16 autocast with the gradient scaler on CUDA; fp32 elsewhere."""
    return "fp16" if amp and device.type == "cuda" else "fp32"


def build_trainer(
    settings: TrainerSettings, model: nn.Module, device: torch.device, env: DistEnv, iters_per_epoch: int,
    precision: Optional[str] = None,
) -> Trainer:
    """EMA, DDP wrapping, optimizer, LR schedule and loss around `model`: the `Trainer`, whose
    own hooks are the per-step ones of every training step (the EMA update).
    `precision` (default: train_precision) is bench.precision when `bench --mode train` builds it."""
    optim = settings.optimizer
    if settings.channels_last:  # before the EMA copies it, so that both run in the same format
        model = model.to(memory_format=torch.channels_last)
    ema = build_ema(model, settings.ema_decay, settings.ema_start) if settings.ema else None
    # Sync-BN only exists for GPU tensors; on CPU (gloo) the BN stays per process.
    sync_bn = settings.sync_bn and device.type == "cuda"
    net = wrap_ddp(model, device, env, sync_bn=sync_bn)
    total_batch = settings.batch_size * env.world_size
    base_lr = scaled_lr(optim.lr, total_batch, scaling=optim.lr_scaling)
    per_epoch = settings.schedule.lr_decay == "per_epoch"
    weight_decay = optim.weight_decay
    if optim.nominal_batch is not None:
        weight_decay = nominal_weight_decay(weight_decay, optim.nominal_batch, total_batch)
    optimizer = build_optimizer(
        net, base_lr, optim.momentum, weight_decay, decay_norm_and_bias=optim.decay_norm_and_bias,
        separate_bias=per_epoch, nesterov=optim.nesterov,
    )
    scheduler = build_schedule(settings, optimizer, base_lr, total_batch, iters_per_epoch)
    return Trainer(
        net,
        build_criterion(settings.loss).to(device),
        optimizer,
        scheduler,
        device=device,
        iters_per_epoch=iters_per_epoch,
        world_size=env.world_size,
        precision=precision or train_precision(settings.amp, device),
        grad_clip=settings.grad_clip,
        ema=ema,
        channels_last=settings.channels_last,
        hooks=[EmaUpdate(ema)] if ema is not None else [],
    )


def build_schedule(settings: TrainerSettings, optimizer: Optimizer, base_lr: float, total_batch: int,
                   iters_per_epoch: int) -> Any:
    """The LR schedule `recipe.lr_decay` names: per iteration (engine/schedule.py) or ultralytics'
    per epoch with its warm-up and nominal-batch accumulation (engine/epoch_schedule.py)."""
    optim, schedule = settings.optimizer, settings.schedule
    if schedule.lr_decay == "per_epoch":
        accumulate = 1 if optim.nominal_batch is None else nominal_accumulation(optim.nominal_batch, total_batch)
        return EpochDecay(
            optimizer, epochs=schedule.epochs, iters_per_epoch=iters_per_epoch,
            lrf=optim.min_lr / optim.lr if optim.lr > 0 else 0.0,
            shape="cosine" if schedule.cosine else "linear", warmup_epochs=schedule.warmup_epochs,
            warmup_bias_lr=schedule.warmup_bias_lr, warmup_momentum=schedule.warmup_momentum,
            accumulate=accumulate,
        )
    return build_scheduler(
        optimizer,
        epochs=schedule.epochs,
        iters_per_epoch=iters_per_epoch,
        warmup_epochs=schedule.warmup_epochs,
        cosine=schedule.cosine,
        base_lr=base_lr,
        min_lr=scaled_lr(optim.min_lr, total_batch, scaling=optim.lr_scaling),
        step_milestones=list(schedule.step_milestones),
        warmup_form=schedule.warmup_form,
        flat_epochs=schedule.flat_epochs,
        final_epochs=schedule.final_epochs,
    )


# --- resume ---------------------------------------------------------------------------------------
def resume(trainer: Trainer, state: dict, seed: int, env: DistEnv, path: Path) -> None:
    """Continue where `state` left off: weights, optimizer, schedule, EMA, then the RNG states."""
    check_resumable(state, trainer.iters_per_epoch, path)
    trainer.load_state_dict(state)
    restore_rng_states(state["rng"])
    if env.rank != 0:  # the checkpoint holds rank 0's generators; keep the ranks apart
        seed_everything(seed + env.rank + RESUME_SEED_STRIDE * trainer.epoch)


def check_resumable(state: dict, iters_per_epoch: int, path: Path) -> None:
    """A checkpoint from a different schedule cannot be continued exactly: say so."""
    saved = state.get("iters_per_epoch")
    if saved is not None and int(saved) != iters_per_epoch:
        raise UserError(
            f"{path}: written with {saved} iterations per epoch, this config gives {iters_per_epoch}; "
            "resume with the same data, batch size and train.max_iters_per_epoch"
        )
