"""`measure(run, model, has_weights)`: the bench mode's measurement (runner.py: infer,
train_step.py: train). The config is read above (`asffbench.runs.benchmark`)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from asffbench.bench.runner import benchmark_inference, check_machine
from asffbench.bench.train_step import benchmark_train_step
from asffbench.device import resolve_device
from asffbench.settings import BenchRun


def measure(run: BenchRun, model: nn.Module, has_weights: bool, device: Optional[torch.device] = None) -> dict:
    """Measure `model` under the bench protocol of `run` (`has_weights`: whether it carries learned
    weights, which decides between val and random images under `bench.input=auto`) on `device`
    (default: `bench.device` resolved here)."""
    device = device if device is not None else resolve_device(run.bench.device)
    check_machine(run.bench, device)
    if run.bench.mode == "train":
        return benchmark_train_step(run, device, model)
    return benchmark_inference(run, device, model, has_weights)
