"""`train(cfg, run_dir) -> TrainResult`: set up everything from the config and run the epochs.

Single process, or DDP when launched by torchrun / as several SLURM tasks. Only rank 0 writes
(config, log, checkpoints). `train.resume=true` continues from `run_dir/checkpoints/last.pt`,
written at the end of every epoch: a run killed mid-epoch redoes that epoch.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from asffbench.config.compose import to_plain
from asffbench.atomic import write_text_atomic
from asffbench.engine.checkpoint import (
    last_checkpoint,
    load_checkpoint,
    load_model_weights,
    model_state_from,
    restore_rng_states,
    save_checkpoint,
)
from asffbench.engine.distributed import barrier, init_distributed, process_device, wrap_ddp
from asffbench.engine.ema import build_ema
from asffbench.engine.logging import TrainLogger
from asffbench.engine.optim import build_optimizer, scaled_lr
from asffbench.engine.schedule import build_scheduler
from asffbench.engine.trainer import NonFiniteLossError, Trainer  # noqa: F401 - re-exported
from asffbench.memory import larger_peak

__all__ = ["TrainResult", "NonFiniteLossError", "train", "seed_everything", "build_criterion"]


@dataclass
class TrainResult:
    checkpoint: Path  # run_dir/checkpoints/last.pt
    train_seconds: float  # wall time of the epochs run by this call (not of earlier, resumed ones)
    epochs_done: int
    model: nn.Module = field(repr=False)  # the EMA model when EMA is on; unwrapped from DDP; in eval mode
    final_loss: Optional[float] = None  # mean loss of the last epoch run by this call
    peak_memory: Optional[dict] = None  # the largest per-epoch peak (asffbench.memory.PeakMemory)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds every CUDA device too


def build_criterion(cfg: DictConfig) -> nn.Module:
    from asffbench.engine.loss import YOLOLoss

    return YOLOLoss(
        num_classes=cfg.model.num_classes,
        anchors=[list(a) for a in cfg.model.anchors],
        iou_loss=cfg.tricks.iou_loss,
        label_smoothing=cfg.tricks.label_smoothing,
        guided_anchoring=cfg.tricks.guided_anchoring,
    )


def train(cfg: DictConfig, run_dir: Path) -> TrainResult:
    from asffbench.build import build_model
    from asffbench.data import build_train_loader
    from asffbench.device import configure_cpu_threads, resolve_device

    configure_cpu_threads()
    run_dir = Path(run_dir)
    device = resolve_device(cfg.device)
    env = init_distributed(device)
    device = process_device(device, env)
    tcfg = cfg.train
    ckpt_path = last_checkpoint(run_dir)
    resume_state = load_checkpoint(ckpt_path) if tcfg.resume and ckpt_path.is_file() else None

    seed_everything(int(cfg.seed) + env.rank)
    model = build_model(cfg)
    if tcfg.checkpoint and resume_state is None:
        init_path = Path(tcfg.checkpoint)
        load_model_weights(model, model_state_from(load_checkpoint(init_path), init_path), init_path)
    model.to(device)
    loader = build_train_loader(cfg, rank=env.rank, world_size=env.world_size)
    iters_per_epoch = len(loader)  # already capped by train.max_iters_per_epoch

    ema = build_ema(model, tcfg.ema_decay) if tcfg.ema else None
    # Sync-BN only exists for GPU tensors; on CPU (gloo) the BN stays per process.
    sync_bn = bool(cfg.tricks.sync_bn) and device.type == "cuda"
    net = wrap_ddp(model, device, env, sync_bn=sync_bn)
    base_lr = scaled_lr(tcfg.lr, tcfg.batch_size * env.world_size)
    optimizer = build_optimizer(net, base_lr, tcfg.momentum, tcfg.weight_decay)
    scheduler = build_scheduler(
        optimizer,
        epochs=tcfg.epochs,
        iters_per_epoch=iters_per_epoch,
        warmup_epochs=tcfg.warmup_epochs,
        cosine=cfg.tricks.cosine_lr,
        base_lr=base_lr,
        min_lr=scaled_lr(tcfg.min_lr, tcfg.batch_size * env.world_size),
        step_milestones=list(tcfg.step_milestones),
    )
    trainer = Trainer(
        net,
        build_criterion(cfg).to(device),
        optimizer,
        scheduler,
        device=device,
        iters_per_epoch=iters_per_epoch,
        world_size=env.world_size,
        amp=tcfg.amp,
        grad_clip=tcfg.grad_clip,
        ema=ema,
        log_every=tcfg.log_every,
    )
    if resume_state is not None:
        check_resumable(resume_state, iters_per_epoch, ckpt_path)
        trainer.load_state_dict(resume_state)
        restore_rng_states(resume_state["rng"])
        if env.rank != 0:  # the checkpoint holds rank 0's generators; keep the ranks apart
            seed_everything(int(cfg.seed) + env.rank + 7919 * trainer.epoch)

    plain_cfg = to_plain(cfg)
    if env.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(plain_cfg)))
    trainer.logger = TrainLogger(
        run_dir,
        epochs=tcfg.epochs,
        iters_per_epoch=iters_per_epoch,
        start_epoch=trainer.epoch,
        enabled=env.is_main,
    )
    started = time.perf_counter()
    final_loss = peak_memory = None
    try:
        if tcfg.epochs == 0 and env.is_main and resume_state is None:
            save_checkpoint(trainer.state_dict(plain_cfg), ckpt_path)  # eval finds the given weights
        for epoch in range(trainer.epoch, tcfg.epochs):
            summary = trainer.train_epoch(loader, epoch)
            final_loss = summary["loss"]
            peak_memory = larger_peak(peak_memory, summary["peak_memory"])
            if env.is_main:
                save_checkpoint(trainer.state_dict(plain_cfg), ckpt_path)
            trainer.logger.epoch_end(epoch=epoch, **summary)
            barrier()
    finally:
        trainer.logger.close()
    final = trainer.final_model()
    final.eval()
    return TrainResult(
        checkpoint=ckpt_path,
        train_seconds=time.perf_counter() - started,
        epochs_done=trainer.epoch,
        model=final,
        final_loss=final_loss,
        peak_memory=peak_memory,
    )


def check_resumable(state: dict, iters_per_epoch: int, path: Path) -> None:
    """A checkpoint from a different schedule cannot be continued exactly: say so."""
    from asffbench.errors import UserError

    saved = state.get("iters_per_epoch")
    if saved is not None and int(saved) != iters_per_epoch:
        raise UserError(
            f"{path}: written with {saved} iterations per epoch, this config gives {iters_per_epoch}; "
            "resume with the same data, batch size and train.max_iters_per_epoch"
        )
