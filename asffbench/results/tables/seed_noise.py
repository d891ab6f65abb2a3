"""Seed statistics of a table cell, and the rule that marks a difference as within seed noise.

Rule: each cell's spread is the sample standard deviation (ddof=1) over its seeds; a cell with one
seed has no spread estimate. A difference between two cells is *within seed noise* when
|Δ| <= sqrt(s_row² + s_base²), using the spreads that exist. When neither cell has two or more
seeds there is no estimate and nothing is marked. This is the standard deviation of the difference
of two single runs, so a marked difference is one that a re-run with another seed could undo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float  # NaN with fewer than two values
    n: int  # how many values the mean is over

    @property
    def has_spread(self) -> bool:
        return self.n >= 2 and not math.isnan(self.std)


EMPTY = Stat(math.nan, math.nan, 0)


def summarize(values: Iterable[float]) -> Stat:
    finite = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not finite:
        return EMPTY
    mean = math.fsum(finite) / len(finite)
    if len(finite) < 2:
        return Stat(mean, math.nan, len(finite))
    variance = math.fsum((v - mean) ** 2 for v in finite) / (len(finite) - 1)
    return Stat(mean, math.sqrt(variance), len(finite))


def scaled(stat: Stat, factor: float) -> Stat:
    return Stat(stat.mean * factor, stat.std * factor, stat.n)


def difference(row: Stat, base: Stat) -> float:
    return row.mean - base.mean


def within_noise(row: Stat, base: Stat) -> bool:
    """Whether |row - base| is no larger than the combined seed spread of the two cells."""
    spreads = [s.std for s in (row, base) if s.has_spread]
    delta = difference(row, base)
    if not spreads or math.isnan(delta):
        return False
    return abs(delta) <= math.sqrt(math.fsum(s * s for s in spreads))
