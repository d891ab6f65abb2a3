"""`benchmark(cfg)`: one benchmark of the configured model, the config read here (`settings.bench_run`)
and the measurement left to `bench.modes.measure`."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from asffbench.bench.modes import measure
from asffbench.settings import bench_run
from asffbench.weights.load import build_with_weights
from asffbench.weights.resolve import BENCH, resolve_weights


def benchmark(cfg: Any, model: Optional[nn.Module] = None, *, has_weights: Optional[bool] = None,
              device: Optional[torch.device] = None) -> dict:
    """Measure the model that `cfg` describes (or `model`, already built) under the bench protocol.

    `has_weights`: whether `model` carries learned weights (default: yes when a model is given);
    it decides between val and random images under `bench.input=auto`. `device`: as the caller
    resolved it (`run_experiment`), else `bench.measure` resolves `device=`.
    """
    run = bench_run(cfg)
    model, has_weights = model_to_measure(cfg, model, has_weights)
    return measure(run, model, has_weights, device)


def model_to_measure(cfg: Any, model: Optional[nn.Module], has_weights: Optional[bool]) -> tuple[nn.Module, bool]:
    """The given model; else the configured one with `resolve_weights(cfg, "bench")`'s weights
    (eval.checkpoint, train.checkpoint, model.weights, model.pretrained). Returns the model and
    whether it carries learned detector weights (an ImageNet backbone alone does not)."""
    if model is not None:
        return model, True if has_weights is None else has_weights
    source = resolve_weights(cfg, BENCH)
    torch.manual_seed(int(cfg.seed))  # what the weights do not set is drawn alike every time
    return build_with_weights(cfg, source), source is not None and source.whole_model
