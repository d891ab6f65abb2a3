"""Alternating rounds: several measurements taken in turn, round after round.

A variant timed in one block and another timed later see different machines when the machine is
shared (other load, clock frequency); taking each once per round, in turn, lets such drifts hit
all of them alike, so their ratios measured within one run mean something. The benchmark scripts
(benchmarks/) compare variants this way.
"""

from __future__ import annotations

import statistics
from typing import Callable, Mapping, TypeVar

import torch
from torch import nn

from asffbench.bench.speed import SpeedProtocol, measure_speed

T = TypeVar("T")


def alternating_rounds(measures: Mapping[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """Each measure called once per round, in the mapping's order; every round's value kept."""
    samples: dict[str, list[T]] = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            samples[name].append(measure())
    return samples


def medians(samples: Mapping[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in samples.items()}


def forward_ms_rounds(models: Mapping[str, nn.Module], protocol: SpeedProtocol, device: torch.device,
                      rounds: int) -> dict[str, list[float]]:
    """Each model's mean forward time (ms) under `protocol`, once per round, models in turn."""
    return alternating_rounds(
        {name: (lambda model=model: statistics.fmean(measure_speed(model, protocol, None, device).forward_ms))
         for name, model in models.items()},
        rounds,
    )


def latency_table(samples: Mapping[str, list[float]], baseline: str, label: str) -> list[str]:
    """Rows of median forward ms, the spread of rounds and the ratio to `baseline` (when timed)."""
    base = statistics.median(samples[baseline]) if baseline in samples else None
    lines = [f"{label:<12} {'forward ms':>11} {'min..max of rounds':>20} {'ratio vs ' + baseline:>14}"]
    for name, values in samples.items():
        median = statistics.median(values)
        spread = f"{min(values):.1f}..{max(values):.1f}"
        ratio = f"{median / base:.3f}" if base else "-"
        lines.append(f"{name:<12} {median:>11.1f} {spread:>20} {ratio:>14}")
    return lines
