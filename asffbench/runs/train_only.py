"""`asffbench train`: train one model into a run directory (and evaluate it on request).

Unlike `run_experiment` there is no record and no benchmark. Runs as one process, or as DDP
under torchrun / several SLURM tasks: every rank must use the same run directory, so when
`run_dir` is unset rank 0 picks a fresh one and tells the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from omegaconf import DictConfig, open_dict

from asffbench.config.compose import write_run_config
from asffbench.engine.distributed import broadcast_from_main, process_group
from asffbench.runs.choices import resolve_choices, with_resolved_deform_conv
from asffbench.runs.evaluate import evaluate
from asffbench.runs.record import experiment_hash
from asffbench.runs.tracking import metrics_outcome, run_trackers
from asffbench.runs.training import train
from asffbench.runs.run import fresh_run_dir, own_run
from asffbench.weights.resolve import TRAIN


def train_only(cfg: DictConfig, then_eval: bool = False) -> Optional[dict]:
    """Train (then evaluate on rank 0 when `then_eval`); the outcome on rank 0, None elsewhere.

    The outcome: run_dir, checkpoint, epochs_done, world_size, train_seconds (all attempts),
    train_seconds_attempt, final_loss and, with `then_eval`, metrics (what `evaluate` returns).
    The run dir is held (runs/lock.py) throughout: a second `train` on it stops with one line.
    """
    choices = resolve_choices(cfg, TRAIN)  # device, deform conv, starting weights: once for the launch
    cfg = with_resolved_deform_conv(cfg, choices)
    with process_group(choices.device) as env:
        run_dir = Path(cfg.run_dir) if cfg.run_dir else broadcast_from_main(lambda: fresh_dir(cfg))
        with own_run(run_dir), run_trackers(with_run_dir(cfg, run_dir), experiment_hash(
                cfg, device_kind=choices.device.type), enabled=env.is_main) as trackers:
            if env.is_main:  # one owner per run dir (rank 0 holds it for the job)
                write_run_config(run_dir, cfg)
            result = train(cfg, run_dir, choices, trackers)
            if not env.is_main:
                return None
            outcome = {
                "run_dir": str(run_dir),
                "checkpoint": str(result.checkpoint),
                "epochs_done": result.epochs_done,
                "world_size": env.world_size,
                "train_seconds": round(result.train_seconds, 3),
                "train_seconds_attempt": round(result.train_seconds_attempt, 3),
                "final_loss": result.final_loss,
            }
            if then_eval:
                outcome["metrics"] = evaluate(cfg, run_dir, model=result.model, device=choices.device)
            trackers.finish(metrics_outcome(outcome.get("metrics"), {"train_seconds": result.train_seconds}))
            return outcome


def with_run_dir(cfg: DictConfig, run_dir: Path) -> DictConfig:
    """`cfg` naming the run dir the launch chose (the trackers name their run after it)."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.run_dir = str(run_dir)
    return cfg


def fresh_dir(cfg: DictConfig) -> Path:
    return fresh_run_dir(cfg)
