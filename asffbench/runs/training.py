"""`train(cfg, run_dir) -> TrainResult`: the orchestration of one training run.

The parts come from `train_builders.py` (process, model and initial weights, data, optimisation,
resume); the epochs run in `trainer.py` (`Trainer.fit`), with the hooks listed here (log lines
per step; checkpoint, epoch line, evaluation and barrier per epoch).
Single process, or DDP when launched by torchrun / as several SLURM tasks. Only rank 0 writes
(config, log, checkpoints). `train.resume=true` continues from `run_dir/checkpoints/last.pt`,
written at the end of every epoch: a run killed mid-epoch redoes that epoch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Optional

from omegaconf import DictConfig
from torch import nn

from asffbench.build import build_model
from asffbench.config.compose import to_plain
from asffbench.data.loaders import build_val_loader
from asffbench.engine.checkpoint import save_checkpoint
from asffbench.engine.distributed import DistEnv, barrier
from asffbench.engine.evaluate import PeriodicEvaluator
from asffbench.engine.hooks import EpochHook, Hook, StepLog
from asffbench.engine.logging import TrainLogger
from asffbench.engine.signals import signals_deferred
from asffbench.engine.train_builders import (
    build_data,
    build_initial_model,
    build_trainer,
    resume,
    resume_state_of,
    setup_process,
)
from asffbench.engine.trainer import Trainer
from asffbench.settings import data_settings, eval_settings, train_data_settings, trainer_settings
from asffbench.runs.choices import RunChoices, resolve_choices
from asffbench.trackers.base import TrackerSet
from asffbench.weights.resolve import TRAIN, last_checkpoint


@dataclass
class TrainResult:
    checkpoint: Path  # run_dir/checkpoints/last.pt
    train_seconds: float  # training wall time of all attempts (earlier ones up to their last checkpoint)
    epochs_done: int
    model: nn.Module = field(repr=False)  # the EMA model when EMA is on; unwrapped from DDP; in eval mode
    final_loss: Optional[float] = None  # mean loss of the last epoch run by this call
    train_seconds_attempt: float = 0.0  # training wall time of this call alone
    peak_memory: Optional[dict] = None  # the largest per-epoch peak (asffbench.memory.PeakMemory)


def train(cfg: DictConfig, run_dir: Path, choices: Optional[RunChoices] = None,
          trackers: Optional[TrackerSet] = None) -> TrainResult:
    """Train `cfg`'s model into `run_dir`; `choices` (device, starting weights) as the caller
    resolved them (`run_experiment`), else resolved here. `trackers` (the caller's, who finishes
    and closes them: runs/tracking.py) get every line of the train log; none by default."""
    run_dir = Path(run_dir)
    checkpoint = last_checkpoint(run_dir)
    choices = choices if choices is not None else resolve_choices(cfg, TRAIN)
    device, env = setup_process(choices.device)
    resume_state = resume_state_of(bool(cfg.train.resume), checkpoint, env.is_main)
    source = None if resume_state is not None else choices.weights
    model = build_initial_model(partial(build_model, cfg), source, int(cfg.seed), device, env)
    loader = build_data(train_data_settings(cfg), env)
    trainer = build_trainer(trainer_settings(cfg), model, device, env, iters_per_epoch=len(loader))
    if resume_state is not None:
        resume(trainer, resume_state, int(cfg.seed), env, checkpoint)
    trainer.logger = build_logger(cfg, run_dir, trainer, env, trackers)

    earlier = float((resume_state or {}).get("train_seconds", 0.0))  # stored by the attempts before
    started = time.perf_counter()

    def seconds_so_far() -> float:
        return earlier + time.perf_counter() - started

    try:
        if cfg.train.epochs == 0 and env.is_main and resume_state is None:
            save_checkpoint(trainer.state_dict(to_plain(cfg)), checkpoint)  # eval finds the given weights
        evaluator = PeriodicEvaluator(eval_settings(cfg, during_training=True),
                                      partial(build_val_loader, data_settings(cfg)), run_dir if env.is_main else None)
        evaluate_if_missed(trainer, evaluator, env)
        hooks = [StepLog(cfg.train.log_every), *after_epoch_hooks(cfg, env, checkpoint, seconds_so_far, evaluator)]
        final_loss = trainer.fit(loader, cfg.train.epochs, hooks)
    finally:
        trainer.logger.close()
    attempt_seconds = time.perf_counter() - started
    return TrainResult(
        checkpoint=checkpoint,
        train_seconds=earlier + attempt_seconds,
        epochs_done=trainer.epoch,
        model=trainer.final_model().eval(),
        final_loss=final_loss,
        train_seconds_attempt=attempt_seconds,
        peak_memory=trainer.peak_memory,
    )


def build_logger(cfg: DictConfig, run_dir: Path, trainer: Trainer, env: DistEnv,
                 trackers: Optional[TrackerSet] = None) -> TrainLogger:
    return TrainLogger(
        run_dir,
        epochs=cfg.train.epochs,
        iters_per_epoch=trainer.iters_per_epoch,
        start_epoch=trainer.epoch,
        enabled=env.is_main,
        trackers=trackers,
    )


def evaluate_if_missed(trainer: Trainer, evaluator: PeriodicEvaluator, env: DistEnv) -> None:
    """A resumed run whose earlier attempt stopped between an epoch's checkpoint and that epoch's
    due evaluation runs the evaluation now: the weights just loaded are the ones it would have
    measured, and the evaluation leaves the random state alone, so training goes on unchanged."""
    done = trainer.epoch
    if not env.is_main or done == 0 or not evaluator.due(done):
        return
    if not trainer.logger.has_line(epoch=done - 1, event="eval"):
        log_eval(trainer, done - 1, evaluator(trainer.final_model(), trainer.device, done))


def log_eval(trainer: Trainer, epoch: int, metrics: Optional[dict]) -> None:
    """The eval line of an evaluation during training; none where nothing was scored (a test split)."""
    if metrics is not None:
        trainer.logger.eval_result(epoch=epoch, metrics=metrics)


def after_epoch_hooks(
    cfg: DictConfig,
    env: DistEnv,
    checkpoint: Path,
    seconds_so_far: Callable[[], float],
    evaluator: PeriodicEvaluator,
) -> list[Hook]:
    """What follows every epoch, in order: the checkpoint (rank 0) and the log's epoch line as one
    hook, every `train.eval_every` epochs the val metrics as an eval line (rank 0), a barrier.

    The checkpoint comes first so that an epoch is logged as done only once it can be resumed, and
    preemption signals wait until the line is written too: a job requeued between the two would
    resume after an epoch whose line it never wrote. The checkpoint stores the training time so
    far (all attempts), which a resumed attempt adds to.
    """
    plain_cfg = to_plain(cfg)

    def checkpoint_and_log(trainer: Trainer, epoch: int, summary: dict) -> None:
        with signals_deferred():
            if env.is_main:
                save_checkpoint({**trainer.state_dict(plain_cfg), "train_seconds": seconds_so_far()}, checkpoint)
            trainer.logger.epoch_end(epoch=epoch, **summary)

    def evaluate_now(trainer: Trainer, epoch: int, summary: dict) -> None:
        if env.is_main and evaluator.due(epoch + 1):
            log_eval(trainer, epoch, evaluator(trainer.final_model(), trainer.device, epoch + 1))

    def wait_for_all_ranks(trainer: Trainer, epoch: int, summary: dict) -> None:
        barrier()

    return [EpochHook(checkpoint_and_log), EpochHook(evaluate_now), EpochHook(wait_for_all_ranks)]
