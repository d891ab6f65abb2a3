"""Paired bootstrap of metric differences (COCO AP, and VOC mAP for VOC runs): intervals, p-values, seeds.

Both sides are scored on the same image resamples (`bootstrap.replicate_metrics` with one shared
weight matrix), so image difficulty cancels out of the difference. A side with several seeds
(runs of one sweep cell) also resamples its seeds on every replicate: a two-level bootstrap,
seeds then images, whose interval covers both kinds of noise.

- interval: the 2.5th and 97.5th percentiles of the replicate differences (B - A);
- p-value: two-sided, 2 * min(P*(Δ <= 0), P*(Δ >= 0)) over the replicates, with the usual +1 in
  numerator and denominator so a finite bootstrap never claims p = 0; capped at 1;
- significant: the interval excludes 0 (or, once adjusted for its family, the adjusted decision).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from asffbench.results.bootstrap import MatchedDetections, point_metrics, replicate_metrics
from asffbench.results.multiplicity import Adjusted

DEFAULT_REPLICATES = 1000
DEFAULT_SEED = 0


@dataclass
class RunSample:
    """One run's metrics on the evaluation set (`point`) and on every replicate."""

    point: dict[str, float]
    replicates: dict[str, np.ndarray]


@dataclass
class SideEstimate:
    """One side of a comparison: the mean over its seeds, replicated, and the seeds' spread."""

    point: dict[str, float]
    replicates: dict[str, np.ndarray]
    seeds: int
    seed_std: dict[str, float]  # NaN with one seed


@dataclass
class MetricDelta:
    a: float
    b: float
    delta: float
    ci95: tuple[float, float]
    p: float
    a_ci95: tuple[float, float]  # each side's own interval (error bars of plots)
    b_ci95: tuple[float, float]
    a_seed_std: float
    b_seed_std: float
    # The replicate deltas (B - A) behind ci95, for adjustments over a family (`multiplicity`).
    replicates: Optional[np.ndarray] = field(default=None, repr=False, compare=False)
    adjusted: Optional[Adjusted] = None  # the decision within its family, once adjusted
    seed_widening: float = 0.0  # the seed std (per one-seed side) added to the replicates, if any

    @property
    def significant(self) -> bool:
        """Significant after adjustment for its family where it was adjusted, else on its own."""
        if self.adjusted is not None:
            return self.adjusted.significant
        return self.significant_unadjusted

    @property
    def significant_unadjusted(self) -> bool:
        lo, hi = self.ci95
        return lo > 0 or hi < 0

    @property
    def half_width(self) -> float:
        lo, hi = self.ci95
        return (hi - lo) / 2


def sample_run(matched: MatchedDetections, weights: np.ndarray) -> RunSample:
    return RunSample(point=point_metrics(matched), replicates=replicate_metrics(matched, weights))


def combine_seeds(samples: Sequence[RunSample], rng: np.random.Generator) -> SideEstimate:
    """Average the seeds; with several, every replicate draws its own seeds with replacement.
    The metrics are those every seed has."""
    names = common_names(samples)
    point = {name: float(np.mean([s.point[name] for s in samples])) for name in names}
    if len(samples) == 1:
        return SideEstimate(point, samples[0].replicates, 1, {name: math.nan for name in names})
    replicates = len(next(iter(samples[0].replicates.values())))
    draws = rng.integers(0, len(samples), (replicates, len(samples)))
    rows = np.arange(replicates)[:, None]
    combined = {name: np.stack([s.replicates[name] for s in samples])[draws, rows].mean(axis=1)
                for name in names}
    spread = {name: float(np.std([s.point[name] for s in samples], ddof=1)) for name in names}
    return SideEstimate(point, combined, len(samples), spread)


def common_names(sides: Sequence[RunSample | SideEstimate]) -> list[str]:
    """The metric names all of `sides` have, in the first one's order."""
    return [name for name in sides[0].point if all(name in side.point for side in sides[1:])]


def percentile_interval(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (math.nan, math.nan)
    lo, hi = np.percentile(values, [2.5, 97.5])
    return (float(lo), float(hi))


def two_sided_p(deltas: np.ndarray) -> float:
    deltas = deltas[np.isfinite(deltas)]
    if deltas.size == 0:
        return math.nan
    tail = min(np.count_nonzero(deltas <= 0), np.count_nonzero(deltas >= 0))
    return float(min(1.0, 2 * (tail + 1) / (deltas.size + 1)))


def compare_sides(a: SideEstimate, b: SideEstimate) -> dict[str, MetricDelta]:
    """B - A for every metric both sides have (VOC mAP only when both are VOC runs)."""
    out = {}
    for name in common_names([a, b]):
        deltas = b.replicates[name] - a.replicates[name]
        out[name] = MetricDelta(
            a=a.point[name], b=b.point[name], delta=b.point[name] - a.point[name],
            ci95=percentile_interval(deltas), p=two_sided_p(deltas),
            a_ci95=percentile_interval(a.replicates[name]), b_ci95=percentile_interval(b.replicates[name]),
            a_seed_std=a.seed_std[name], b_seed_std=b.seed_std[name], replicates=deltas,
        )
    return out


def image_set_difference(sides: Sequence[Sequence[MatchedDetections]]) -> Optional[str]:
    """None when every run covers the same images, else a short account of how many differ."""
    runs = [m for side in sides for m in side]
    reference = set(runs[0].image_ids)
    for other in runs[1:]:
        ids = set(other.image_ids)
        if ids != reference:
            return (f"{len(reference - ids)} of {len(reference)} images of the first are not in the "
                    f"other, {len(ids - reference)} of {len(ids)} of the other not in the first")
    return None
