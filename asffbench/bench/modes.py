"""`benchmark(cfg)`: the bench mode's measurement (runner.py: infer, train_step.py: train)."""

from __future__ import annotations

from typing import Optional

from omegaconf import DictConfig
from torch import nn

from asffbench.bench.runner import benchmark_inference, check_machine
from asffbench.bench.train_step import benchmark_train_step
from asffbench.device import resolve_device
from asffbench.settings import bench_settings


def benchmark(cfg: DictConfig, model: Optional[nn.Module] = None, *, has_weights: Optional[bool] = None) -> dict:
    """Measure the model that `cfg` describes (or `model`, already built) under the bench protocol.

    `has_weights`: whether `model` carries learned weights (default: yes when a model is given);
    it decides between val and random images under `bench.input=auto`.
    """
    settings = bench_settings(cfg)
    device = resolve_device(settings.device)
    check_machine(settings, device)
    if settings.mode == "train":
        return benchmark_train_step(cfg, settings, device, model)
    return benchmark_inference(cfg, settings, device, model, has_weights)
