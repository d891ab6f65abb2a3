"""`bench.mode=train`: images per second of a full training step, phase by phase.

A step is forward, loss, backward and optimizer step (with the AMP gradient scaler under fp16),
each phase between device synchronizations. The batches are real augmented batches of the train
loader, prepared and moved to the device beforehand, so the loader is not timed; its own rate is
measured while preparing them and reported beside the step rate, so a reader sees whether data or
compute bounds training.
"""

from __future__ import annotations

import copy
import itertools
import statistics
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Optional

import torch
from omegaconf import DictConfig, open_dict
from torch import Tensor, nn

from asffbench.memory import PeakMemory
from asffbench.bench.oom import run_halving_on_oom
from asffbench.bench.speed import cudnn_benchmark, images_per_second
from asffbench.bench.stats import percentile, summarize
from asffbench.device import synchronize
from asffbench.environment import software_versions

PHASES = ("forward", "loss", "backward", "optimizer")
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


def benchmark_train_step(cfg: DictConfig, settings, device: torch.device, model: Optional[nn.Module] = None) -> dict:
    """The result of `bench --mode train` (see `assemble_train_result` for its keys)."""
    from asffbench.bench.runner import model_to_measure

    # A copy: the training steps must not change a trained model that is evaluated afterwards.
    model = copy.deepcopy(model_to_measure(cfg, model, None)[0]).to(device)
    if settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
    fitted = run_halving_on_oom(lambda batch: time_train_steps(cfg, settings, device, model, batch), settings.batch_size)
    return assemble_train_result(cfg, settings, device, model, fitted.value, fitted.halvings)


def step_config(cfg: DictConfig, batch_size: int) -> DictConfig:
    """The training config at the bench batch and a fixed img_size (multi-scale would change the
    work per step)."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.train.batch_size = batch_size
        cfg.train.max_iters_per_epoch = None
        cfg.train.epochs = max(1, int(cfg.train.epochs))
        cfg.tricks.multiscale = False
    return cfg


def prepare_batches(cfg: DictConfig, device: torch.device, channels_last: bool) -> tuple[list[tuple[Tensor, Tensor]], float, int]:
    """PREPARED_BATCHES augmented batches on the device, the loader's images/s and its workers."""
    from asffbench.data.loaders import build_train_loader

    loader = build_train_loader(cfg)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    batches, stamps = [], []
    for epoch in itertools.count():
        loader.set_epoch(epoch)
        for images, targets, _metas in loader:
            stamps.append(time.perf_counter())
            batches.append((images.to(device).contiguous(memory_format=memory_format), targets.to(device)))
            if len(batches) == PREPARED_BATCHES:
                counted = sum(len(images) for images, _ in batches[1:])
                return batches, counted / max(stamps[-1] - stamps[0], 1e-9), int(cfg.data.workers)


def time_train_steps(cfg: DictConfig, settings, device: torch.device, model: nn.Module, batch_size: int) -> StepTimings:
    from asffbench.engine.optim import build_optimizer, scaled_lr
    from asffbench.engine.train import build_criterion
    from asffbench.engine.trainer import as_float

    cfg = step_config(cfg, batch_size)
    batches, loader_rate, _workers = prepare_batches(cfg, device, settings.channels_last)
    criterion = build_criterion(cfg).to(device)
    optimizer = build_optimizer(model, scaled_lr(float(cfg.train.lr), batch_size), float(cfg.train.momentum),
                                float(cfg.train.weight_decay))
    scaler = torch.amp.GradScaler(device.type, enabled=settings.precision == "fp16")
    net = compiled(model, settings)
    autocast = (nullcontext() if settings.precision == "fp32" else
                torch.autocast(device.type, dtype={"fp16": torch.float16, "bf16": torch.bfloat16}[settings.precision]))

    def step(images: Tensor, targets: Tensor) -> list[float]:
        stamps = [time.perf_counter()]
        with autocast:
            output = net(images)
        synchronize(device)
        stamps.append(time.perf_counter())
        loss, _parts = criterion([as_float(level) for level in output.levels], targets)
        synchronize(device)
        stamps.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        synchronize(device)
        stamps.append(time.perf_counter())
        scaler.step(optimizer)
        scaler.update()
        synchronize(device)
        stamps.append(time.perf_counter())
        return [(b - a) * 1e3 for a, b in zip(stamps, stamps[1:])]

    model.train()
    inputs = itertools.cycle(batches)
    with cudnn_benchmark(settings.cudnn_benchmark):
        first_step(step, next(inputs), settings)
        for _ in range(max(0, settings.warmup - 1)):
            step(*next(inputs))
        with PeakMemory(device) as peak:
            timed = [step(*next(inputs)) for _ in range(settings.repeats * settings.iters)]
    phases = {name: [t[i] for t in timed] for i, name in enumerate(PHASES)}
    return StepTimings(phases, batch_size, loader_rate, peak.result())


def compiled(model: nn.Module, settings) -> nn.Module:
    return model if settings.compile == "false" else torch.compile(model, mode=settings.compile)


def first_step(step, batch: tuple[Tensor, Tensor], settings) -> None:
    """One untimed step, always: it compiles a compiled model, and a failure to compile is one line."""
    if settings.compile == "false":
        step(*batch)
        return
    from asffbench.bench.runner import compile_errors

    with compile_errors(settings):
        step(*batch)


def assemble_train_result(cfg: DictConfig, settings, device: torch.device, model: nn.Module,
                          timings: StepTimings, halvings: int) -> dict:
    from asffbench.bench.runner import run_fields

    step_ms = timings.step_ms
    versions = software_versions()
    return {
        "mode": "train",
        **run_fields(cfg, settings, device, model, timings.batch_size),
        "amp_scaler": settings.precision == "fp16",
        "step_ms": summarize(step_ms),
        "phases_ms": {name: summarize(values) for name, values in timings.phases_ms.items()},
        "images_per_s": images_per_second(timings.batch_size, statistics.fmean(step_ms)),
        "images_per_s_median": images_per_second(timings.batch_size, percentile(step_ms, 50)),
        "loader": {"images_per_s": timings.loader_images_per_s, "workers": int(cfg.data.workers),
                   "batches_prepared": PREPARED_BATCHES},
        "memory": timings.memory,
        "protocol": {
            "warmup": settings.warmup, "iters": settings.iters, "repeats": settings.repeats,
            "timed_iterations": len(step_ms), "synchronized": True, "img_size": settings.img_size,
            "input": f"{PREPARED_BATCHES} augmented train batches of data={cfg.data.name} (multi-scale off), "
                     "prepared on the device beforehand, cycled",
            "oom_fallbacks": halvings,
            "batch_size_requested": "max" if settings.find_max else settings.batch_size,
            "torch_threads": torch.get_num_threads(),
        },
        "torch": versions["torch"],
        "versions": versions,
    }
