"""Alternating rounds: several measurements taken in turn, round after round.

A variant timed in one block and another timed later see different machines when the machine is
shared (other load, clock frequency); taking each once per round, in turn, lets such drifts hit
all of them alike, so their ratios measured within one run mean something. The benchmark scripts
(benchmarks/) compare variants this way.
"""

from __future__ import annotations

import statistics
from typing import Callable, Mapping, TypeVar

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
