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
from typing import Any, Callable, Optional, Sequence

import numpy as np

from asffbench.errors import UserError
from asffbench.results.intervals.bootstrap import MatchedDetections, bootstrap_weights, point_metrics, replicate_metrics
from asffbench.results.intervals.multiplicity import Adjusted
from asffbench.results.intervals.studentized import Studentized, group_shares, jackknife_weights, studentize

DEFAULT_REPLICATES = 1000
DEFAULT_SEED = 0


@dataclass
class RunSample:
    """One run's metrics on the evaluation set (`point`) and on every replicate."""

    point: dict[str, float]
    replicates: dict[str, np.ndarray]
    # The metrics on the leave-one-group-out image sets (`studentized`), and the resamples' and the
    # val set's group shares: what studentizes a delta; None where the sampler gives none.
    jackknife: Optional[dict[str, np.ndarray]] = None
    shares: Optional[np.ndarray] = field(default=None, repr=False)
    val_shares: Optional[np.ndarray] = field(default=None, repr=False)


@dataclass
class SideEstimate:
    """One side of a comparison: the mean over its seeds, replicated, and the seeds' spread."""

    point: dict[str, float]
    replicates: dict[str, np.ndarray]
    seeds: int
    seed_std: dict[str, float]  # NaN with one seed
    jackknife: Optional[dict[str, np.ndarray]] = None  # the seeds' mean on each left-out set
    shares: Optional[np.ndarray] = field(default=None, repr=False)
    val_shares: Optional[np.ndarray] = field(default=None, repr=False)


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
    # The jackknife se of the delta on the val set and on each replicate (bootstrap-t), if scored.
    studentized: Optional[Studentized] = field(default=None, repr=False, compare=False)
    seed_widening: float = 0.0  # the seed std (per one-seed side) added to the replicates, if any

    def scaled(self, factor: float) -> "MetricDelta":
        """The same delta in other units (fractions to percent: 100); not yet adjusted."""
        def pair(values: tuple[float, float]) -> tuple[float, float]:
            return (values[0] * factor, values[1] * factor)

        return MetricDelta(a=self.a * factor, b=self.b * factor, delta=self.delta * factor, ci95=pair(self.ci95),
                           p=self.p, a_ci95=pair(self.a_ci95), b_ci95=pair(self.b_ci95),
                           a_seed_std=self.a_seed_std * factor, b_seed_std=self.b_seed_std * factor,
                           replicates=None if self.replicates is None else self.replicates * factor,
                           studentized=None if self.studentized is None else self.studentized.scaled(factor))

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
    """The run's metrics on the val set, on every resample and on every leave-one-group-out set."""
    leave_out = jackknife_weights(matched.num_images)
    return RunSample(point=point_metrics(matched), replicates=replicate_metrics(matched, weights),
                     jackknife=replicate_metrics(matched, leave_out), shares=group_shares(weights),
                     val_shares=group_shares(np.ones(matched.num_images))[0])


def combine_seeds(samples: Sequence[RunSample], rng: np.random.Generator) -> SideEstimate:
    """Average the seeds; with several, every replicate draws its own seeds with replacement.
    The metrics are those every seed has."""
    names = common_names(samples)
    point = {name: float(np.mean([s.point[name] for s in samples])) for name in names}
    first = samples[0]
    jackknife = None
    if all(s.jackknife is not None for s in samples):
        jackknife = {name: np.mean([s.jackknife[name] for s in samples], axis=0) for name in names}
    if len(samples) == 1:
        return SideEstimate(point, first.replicates, 1, {name: math.nan for name in names},
                            jackknife, first.shares, first.val_shares)
    replicates = len(next(iter(samples[0].replicates.values())))
    draws = rng.integers(0, len(samples), (replicates, len(samples)))
    rows = np.arange(replicates)[:, None]
    combined = {name: np.stack([s.replicates[name] for s in samples])[draws, rows].mean(axis=1)
                for name in names}
    spread = {name: float(np.std([s.point[name] for s in samples], ddof=1)) for name in names}
    return SideEstimate(point, combined, len(samples), spread, jackknife, first.shares, first.val_shares)


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
            studentized=studentized_delta(a, b, name),
        )
    return out


def studentized_delta(a: SideEstimate, b: SideEstimate, name: str) -> Optional[Studentized]:
    """B - A's jackknife se on the val set and on each replicate, where both sides were scored so."""
    if a.jackknife is None or b.jackknife is None or a.shares is None or a.val_shares is None:
        return None
    return studentize(b.jackknife[name] - a.jackknife[name], a.shares, a.val_shares)


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


def bootstrap_compare(a: Sequence[MatchedDetections], b: Sequence[MatchedDetections],
                      replicates: int = DEFAULT_REPLICATES, seed: int = DEFAULT_SEED,
                      sample: Callable[[Any, np.ndarray], RunSample] = sample_run) -> dict[str, MetricDelta]:
    """Paired (two-level with several seeds) bootstrap of B - A; UserError for unequal image sets.
    `sample` scores one input on the resamples (`analyze` passes its error scenarios)."""
    differ = image_set_difference([a, b])
    if differ is not None:
        raise UserError(f"A and B cover different images: {differ}")
    if replicates < 1:
        raise UserError(f"--bootstrap {replicates}: must be at least 1")
    rng = np.random.default_rng(seed)
    weights = bootstrap_weights(a[0].num_images, replicates, rng)
    side_a = combine_seeds([sample(m, weights) for m in a], rng)
    side_b = combine_seeds([sample(m, weights) for m in b], rng)
    return compare_sides(side_a, side_b)
