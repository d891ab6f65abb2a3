"""Summaries of a list of per-iteration timings: the distribution, not only the mean.

Pure functions over plain floats (no torch), so they are checked against a fixed list.
Percentiles are numpy's default (linear interpolation between order statistics).
"""

from __future__ import annotations

import statistics
from typing import Sequence

import numpy as np

# An iteration this many interquartile ranges above the median is an outlier: a noisy machine
# (another process, a frequency change, a page fault) shows itself as a non-zero share.
OUTLIER_IQRS = 3.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of `values`."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


def interquartile_range(values: Sequence[float]) -> float:
    low, high = np.percentile(np.asarray(values, dtype=float), [25, 75])
    return float(high - low)


def outlier_share(values: Sequence[float], iqrs: float = OUTLIER_IQRS) -> float:
    """Share of values more than `iqrs` interquartile ranges above the median."""
    if len(values) == 0:
        return 0.0
    limit = percentile(values, 50) + iqrs * interquartile_range(values)
    return sum(1 for v in values if v > limit) / len(values)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """mean, std (sample), median, p90, p99, min, iqr and outlier_share of `values`."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "median": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "min": float(min(values)),
        "iqr": interquartile_range(values),
        "outlier_share": outlier_share(values),
    }
