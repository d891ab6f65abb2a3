"""One controlled run: train (unless skipped), evaluate, benchmark, and the record of it all.

The record is written when the run starts (`running`) and again when it ends (`completed` or
`failed`), so a run killed in between leaves a `running` record that a sweep resumes. Any
exception of the run itself (a bad dataset path, a non-finite loss, CUDA out of memory) ends as a
`failed` record naming the stage; it is not raised, so a sweep goes on with its next run.
The run directory is held (runs/lock.py) from before the first record to after the last: a run
dir another live process holds stops with `RunLockedError` before anything is written.
The run's trackers (`logger=[...]`, rank 0) are open throughout: the train log feeds them, then
they get the final record's metrics and files (runs/tracking.py).
"""

from __future__ import annotations

import gc
import logging
import time
import traceback
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Optional

import torch
from omegaconf import DictConfig, open_dict

from asffbench.build import resolved_deform_conv
from asffbench.config.compose import first_line, write_run_config
from asffbench.device import configure_cpu_threads
from asffbench.engine.distributed import process_rank
from asffbench.record.layout import RECORD_NAME
from asffbench.record.run_record import Attempt, Metrics, PeakMemory, RunError, RunRecord, bench_from_dict
from asffbench.runs.benchmark import benchmark
from asffbench.runs.choices import RunChoices, resolve_choices
from asffbench.runs.evaluate import evaluate
from asffbench.runs.experiment import device_seconds, experiment_hash, new_record, now_iso, write_record_on_rank0
from asffbench.runs.lock import hold_run
from asffbench.runs.resume import FRESH, attempt_id, clear_stale_checkpoint
from asffbench.runs.robust import robust_with_model
from asffbench.settings import robust_settings
from asffbench.runs.tracking import record_outcome, run_trackers
from asffbench.runs.training import train
from asffbench.trackers.base import TrackerSet
from asffbench.weights.load import build_with_weights

DEFAULT_RUNS_ROOT = Path("runs")
log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 500


def run_experiment(
    cfg: DictConfig,
    axes: Optional[Mapping[str, Any]] = None,
    attempt: Optional[Mapping[str, Any]] = None,
) -> RunRecord:
    """Train + evaluate + benchmark in `cfg.run_dir` (a fresh dir under runs/ when unset).

    `attempt` (from a sweep: id, action, reason) is stored in the record; for a `fresh` attempt a
    checkpoint left in the run dir is removed once the `running` record is written. Returns the
    final record (also written to `<run_dir>/record.json` on rank 0).
    """
    configure_cpu_threads()
    choices = resolve_choices(cfg)  # device, deform conv, starting weights: once, handed down
    # The hash of the config as given, before prepare_config fills in eval.checkpoint: the one a
    # sweep plans with (and `asffbench config` shows), so a completed run is recognised and skipped.
    exp_hash = experiment_hash(cfg, device_kind=choices.device.type)
    cfg = prepare_config(cfg, exp_hash, choices.deform_conv)
    with own_run(Path(cfg.run_dir)), run_trackers(cfg, exp_hash, axes, enabled=process_rank() == 0) as trackers:
        record = run_owned(cfg, exp_hash, axes, attempt, choices, trackers)
        trackers.finish(record_outcome(record))  # the final metrics and the run's files
        return record


def own_run(run_dir: Path) -> AbstractContextManager:
    """Hold the run dir on rank 0 (the other ranks of a DDP job follow rank 0)."""
    return hold_run(run_dir, attempt_id()) if process_rank() == 0 else nullcontext()


def run_owned(
    cfg: DictConfig, exp_hash: str, axes: Optional[Mapping[str, Any]], attempt: Optional[Mapping[str, Any]],
    choices: RunChoices, trackers: Optional[TrackerSet] = None,
) -> RunRecord:
    started = time.perf_counter()
    run_dir = Path(cfg.run_dir)
    record = new_record(cfg, exp_hash, axes or {})
    if attempt is not None:
        record.attempt = Attempt.from_dict(attempt)
    record_path = run_dir / RECORD_NAME
    write_record_on_rank0(record_path, record)
    write_config(run_dir, cfg)
    if attempt is not None and attempt.get("action") == FRESH:
        clear_stale_checkpoint(run_dir)
    stage = "train"
    try:
        model = None
        if cfg.train.epochs > 0:
            result = train(cfg, run_dir, choices, trackers)
            record.train_seconds = float(result.train_seconds)
            record.train_seconds_attempt = float(result.train_seconds_attempt)
            record.train_peak_memory = PeakMemory.from_dict(result.peak_memory) if result.peak_memory else None
            model = result.model
        if process_rank() != 0:
            # DDP helpers: training was the shared work; rank 0 evaluates, benches, records.
            record.status = "completed"
            return record
        weights, has_weights = None, model is not None
        if model is None:
            # Nothing trained: measure the configured weights, or the freshly built model as it is.
            stage = "build"
            weights = choices.weights
            model = build_with_weights(cfg, weights)
            has_weights = weights is not None and weights.whole_model
        if cfg.eval.enabled:
            stage = "eval"
            record.metrics = Metrics.from_dict(evaluate(cfg, run_dir, model=model, weights=weights,
                                                         device=choices.device))
            robust = robust_settings(cfg)
            if robust.enabled:
                stage = "robust"  # the evaluations under corruption (robust.*), into run_dir/robust/
                robust_with_model(cfg, run_dir, model, weights, robust.cells, log.info, device=choices.device)
        stage = "bench"
        # A trained model or given weights are timed on val images; a fresh model on random ones.
        record.bench = bench_from_dict(benchmark(cfg, model=model, has_weights=has_weights,
                                                          device=choices.device))
        record.status = "completed"
    except Exception as err:  # noqa: BLE001 - every failure of the run becomes its record
        record.status = "failed"
        record.error = describe_error(err, stage)
        release_memory()
    record.finished = now_iso()
    record.device_seconds = device_seconds(record, time.perf_counter() - started)
    write_record_on_rank0(record_path, record)
    return record


def prepare_config(cfg: DictConfig, exp_hash: Optional[str] = None, deform_conv: Optional[str] = None) -> DictConfig:
    """A copy with run_dir chosen, `model.deform_conv=auto` resolved (`deform_conv`, as the run
    resolved it; the record names what ran) and, when training is skipped, the weights to
    evaluate set."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.model.deform_conv = deform_conv if deform_conv is not None else resolved_deform_conv(cfg)
        if not cfg.run_dir:
            cfg.run_dir = str(fresh_run_dir(cfg, exp_hash))
        cfg.run_dir = str(Path(cfg.run_dir).resolve())
        if cfg.train.epochs == 0 and cfg.train.checkpoint and not cfg.eval.checkpoint:
            cfg.eval.checkpoint = cfg.train.checkpoint
    return cfg


def fresh_run_dir(cfg: DictConfig, exp_hash: Optional[str] = None) -> Path:
    """runs/<time>-<fusion>-<hash>: unique, sortable by start time, readable at a glance."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = DEFAULT_RUNS_ROOT / f"{stamp}-{cfg.fusion.name}-{(exp_hash or experiment_hash(cfg))[:8]}"
    candidate, n = base, 1
    while candidate.exists():
        candidate, n = Path(f"{base}-{n}"), n + 1
    return candidate


def write_config(run_dir: Path, cfg: DictConfig) -> None:
    """config.yaml of the run (rank 0, atomically like the record)."""
    if process_rank() != 0:
        return
    write_run_config(run_dir, cfg)


def describe_error(err: BaseException, stage: str) -> RunError:
    message = first_line(str(err).strip()) or type(err).__name__
    return RunError(
        type=type(err).__name__,
        message=message[:MAX_MESSAGE_CHARS],
        where=stage,
        traceback="".join(traceback.format_exception(err)[-6:])[-4000:],
    )


def release_memory() -> None:
    """After a failure (CUDA OOM above all), free what the run held so the next run can start."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
