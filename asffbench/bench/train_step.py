"""`bench.mode=train`: images per second of the training step, phase by phase.

The step timed is the trainer's own (`Trainer.train_step`, built by train_builders.build_trainer
from the same config: LR schedule, gradient clipping, the non-finite-loss check, EMA,
`recipe.decay_norm_and_bias`, the AMP scaler under fp16). Timing adds only what `SyncedPhases`
does: a device synchronization and a time stamp at the end of each phase (forward, loss,
backward, optimizer). The batch is `bench.batch_size` when given, else `train.batch_size`.
The batches are real augmented batches of the train loader, prepared and moved to the device
beforehand, so the loader is not timed; its own rate is measured while preparing them and
reported beside the step rate, so a reader sees whether data or compute bounds training.
"""

from __future__ import annotations

import copy
import itertools
import statistics
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from asffbench.bench.oom import run_halving_on_oom
from asffbench.bench.runner import compile_errors, run_fields
from asffbench.bench.speed import cudnn_benchmark, images_per_second
from asffbench.bench.timing_stats import percentile, summarize
from asffbench.data.loaders import TrainDataSettings, build_train_loader
from asffbench.device import synchronize
from asffbench.engine.distributed import DistEnv
from asffbench.engine.train_builders import build_trainer
from asffbench.engine.trainer import PHASES, StepPhases, Trainer
from asffbench.environment import software_versions
from asffbench.memory import PeakMemory
from asffbench.settings import BenchRun, BenchSettings, TrainerSettings

# Distinct batches prepared (then cycled); the first one is not counted in the loader's rate,
# which would otherwise include starting its workers.
PREPARED_BATCHES = 4


@dataclass
class StepTimings:
    phases_ms: dict[str, list[float]]  # phase -> every timed step
    batch_size: int
    loader_images_per_s: float
    memory: dict

    @property
    def step_ms(self) -> list[float]:
        return [sum(parts) for parts in zip(*self.phases_ms.values())]


class SyncedPhases(StepPhases):
    """Synchronizes the device and stamps the time at the start of a step and at each phase's end."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.stamps: list[float] = []

    def start(self) -> None:
        synchronize(self.device)
        self.stamps = [time.perf_counter()]

    def end(self, phase: str) -> None:
        synchronize(self.device)
        self.stamps.append(time.perf_counter())

    def milliseconds(self) -> list[float]:
        """Of the last step, one per phase (PHASES order)."""
        return [(b - a) * 1e3 for a, b in zip(self.stamps, self.stamps[1:])]


def benchmark_train_step(run: BenchRun, device: torch.device, model: nn.Module) -> dict:
    """The result of `bench --mode train` (see `assemble_train_result` for its keys)."""
    # A copy: the training steps must not change a trained model that is evaluated afterwards.
    model = copy.deepcopy(model).to(device)
    if run.bench.channels_last:
        model = model.to(memory_format=torch.channels_last)
    fitted = run_halving_on_oom(lambda batch: time_train_steps(run, device, model, batch), run.bench.batch_size)
    return assemble_train_result(run, device, model, fitted.value, fitted.halvings)


def step_settings(run: BenchRun, batch_size: int) -> tuple[TrainDataSettings, TrainerSettings]:
    """The training data and trainer at the bench batch and a fixed img_size (multi-scale would
    change the work per step), for at least one epoch, uncapped."""
    epochs = max(1, run.data.sampling.epochs)
    sampling = replace(run.data.sampling, batch_size=batch_size, max_batches=None, epochs=epochs, multiscale=False)
    trainer = replace(run.trainer, batch_size=batch_size, schedule=replace(run.trainer.schedule, epochs=epochs))
    return replace(run.data, sampling=sampling), trainer


def prepare_batches(data: TrainDataSettings, device: torch.device,
                    channels_last: bool) -> tuple[list[tuple[Tensor, Tensor]], float, int]:
    """PREPARED_BATCHES augmented batches on the device, the loader's images/s and its length
    (the iterations per epoch of the LR schedule)."""
    loader = build_train_loader(data)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    batches, stamps = [], []
    for epoch in itertools.count():
        loader.set_epoch(epoch)
        for images, targets, _metas in loader:
            stamps.append(time.perf_counter())
            batches.append((images.to(device).contiguous(memory_format=memory_format), targets.to(device)))
            if len(batches) == PREPARED_BATCHES:
                counted = sum(len(images) for images, _ in batches[1:])
                return batches, counted / max(stamps[-1] - stamps[0], 1e-9), len(loader)


def step_trainer(trainer_settings: TrainerSettings, settings: BenchSettings, device: torch.device, model: nn.Module,
                 iters_per_epoch: int) -> Trainer:
    """The trainer `train` would build (one process), at bench.precision, its model compiled when
    bench.compile says so."""
    trainer = build_trainer(trainer_settings, model, device, DistEnv(), iters_per_epoch, precision=settings.precision)
    trainer.model.train()
    if settings.compile != "false":
        trainer.model = torch.compile(trainer.model, mode=settings.compile)
    return trainer


def timed_step(trainer: Trainer, batch: tuple[Tensor, Tensor], phases: SyncedPhases) -> list[float]:
    """One trainer step, milliseconds per phase."""
    trainer.train_step(*batch, epoch=0, phases=phases)
    return phases.milliseconds()


def time_train_steps(run: BenchRun, device: torch.device, model: nn.Module, batch_size: int) -> StepTimings:
    settings = run.bench
    data, trainer_settings = step_settings(run, batch_size)
    batches, loader_rate, iters_per_epoch = prepare_batches(data, device, settings.channels_last)
    trainer = step_trainer(trainer_settings, settings, device, model, iters_per_epoch)
    phases = SyncedPhases(device)
    inputs = itertools.cycle(batches)
    with cudnn_benchmark(settings.cudnn_benchmark):
        # One untimed step, always: it compiles a compiled model, and a failure to compile is one line.
        with compile_errors(settings) if settings.compile != "false" else nullcontext():
            timed_step(trainer, next(inputs), phases)
        for _ in range(max(0, settings.warmup - 1)):
            timed_step(trainer, next(inputs), phases)
        with PeakMemory(device) as peak:
            timed = [timed_step(trainer, next(inputs), phases) for _ in range(settings.repeats * settings.iters)]
    by_phase = {name: [t[i] for t in timed] for i, name in enumerate(PHASES)}
    return StepTimings(by_phase, batch_size, loader_rate, peak.result())


def assemble_train_result(run: BenchRun, device: torch.device, model: nn.Module, timings: StepTimings,
                          halvings: int) -> dict:
    settings = run.bench
    step_ms = timings.step_ms
    versions = software_versions()
    return {
        "mode": "train",
        **run_fields(settings, device, model, timings.batch_size),
        "amp_scaler": settings.precision == "fp16",
        "step_ms": summarize(step_ms),
        "phases_ms": {name: summarize(values) for name, values in timings.phases_ms.items()},
        "images_per_s": images_per_second(timings.batch_size, statistics.fmean(step_ms)),
        "images_per_s_median": images_per_second(timings.batch_size, percentile(step_ms, 50)),
        "loader": {"images_per_s": timings.loader_images_per_s, "workers": run.data.data.workers,
                   "batches_prepared": PREPARED_BATCHES},
        "memory": timings.memory,
        "protocol": {
            "warmup": settings.warmup, "iters": settings.iters, "repeats": settings.repeats,
            "timed_iterations": len(step_ms), "synchronized": True, "img_size": settings.img_size,
            "input": f"{PREPARED_BATCHES} augmented train batches of data={run.data.data.source.name} (multi-scale off), "
                     "prepared on the device beforehand, cycled",
            "oom_fallbacks": halvings,
            "batch_size_requested": "max" if settings.find_max else settings.batch_size,
            "batch_size_from": settings.batch_size_from,
            "torch_threads": torch.get_num_threads(),
        },
        "torch": versions["torch"],
        "versions": versions,
    }
