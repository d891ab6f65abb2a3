"""Adjusted decisions for a family of bootstrap deltas: simultaneous intervals and Holm.

A report table holds many deltas (every row against its baseline, on several AP columns). At 95%
each, some exclude 0 by chance alone. Two adjustments of the whole family, both from the paired
bootstrap's own replicates (all deltas of a table are computed on the same image resamples, so the
replicates carry the dependence between them):

- `simultaneous`: max-|t| intervals. Each replicate's largest standardised deviation over the
  family, |Δ*_j - Δ_j| / se_j, gives one critical value c (its 95th percentile); each delta's
  interval is Δ_j ± c·se_j. All intervals cover their true deltas together with ~95% probability,
  so "some interval excludes 0" happens under the null of no difference at most ~5% of the time
  (family-wise error rate). It uses the correlation between deltas (a shared baseline, AP and its
  per-scale columns), so it is narrower than a Bonferroni or Holm correction for correlated
  families, and it gives intervals, not only decisions. Where the deltas carry a jackknife se
  (`studentized`), it is the bootstrap-t's max-|t|: each replicate is divided by its own se
  (|Δ*_rj - Δ_j| / se*_rj) and each interval is Δ_j ± c·se_j. Dividing by the one observed se
  treats it as exact; at small val sets it is not, and the family then rejects too often (about
  8% instead of 5% at 150 images in the simulation; docs/statistics.md).
- `holm`: Holm's step-down on the bootstrap p-values (`significance.two_sided_p`). It controls the
  same error rate without assumptions on dependence, but it ignores the correlation and a finite
  bootstrap's p-values cannot fall below 1/(R+1): with R=1000 and 32 deltas the smallest Holm
  threshold 0.05/32 is barely reachable.
- `none`: each delta on its own (the unadjusted 95% percentile interval).

Numpy only; units are whatever the deltas are in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from asffbench.errors import UserError
from asffbench.results.intervals.studentized import Studentized

ADJUSTMENTS = ("none", "holm", "simultaneous")
DEFAULT_ADJUSTMENT = "simultaneous"
FAMILY_LEVEL = 0.95
ALPHA = 0.05  # two-sided, family-wise


@dataclass(frozen=True)
class Adjusted:
    """One delta's decision after adjusting for its family."""

    method: str
    ci95: tuple[float, float]  # the adjusted interval (the unadjusted one under holm and none)
    p: float  # adjusted p-value (Holm's; the max-|t| one under simultaneous; raw under none)
    significant: bool
    family: int  # how many deltas the family holds


def check_adjustment(method: str) -> str:
    if method not in ADJUSTMENTS:
        raise UserError(f"--adjust {method}: unknown adjustment; choose one of {', '.join(ADJUSTMENTS)}")
    return method


def holm_adjusted(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted in the family)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, math.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out


def standard_errors(replicates: np.ndarray) -> np.ndarray:
    """(m,) bootstrap standard error of each column of (R, m), ignoring non-finite replicates."""
    finite = np.isfinite(replicates)
    counts = finite.sum(axis=0)
    values = np.where(finite, replicates, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(axis=0) / counts
        squares = (np.where(finite, values - mean, 0.0) ** 2).sum(axis=0)
        return np.where(counts > 1, np.sqrt(squares / (counts - 1)), math.nan)


def max_t(deltas: np.ndarray, replicates: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(R,) each replicate's largest |Δ* - Δ| / scale over the family's usable columns; `scale` is
    (m,) (one se per delta) or (R, m) (each replicate's own se: the bootstrap-t)."""
    valid = np.isfinite(scale) & (scale > 0)
    scale = np.where(valid, scale, math.nan)  # a replicate without an se counts in the other columns
    usable = np.broadcast_to(valid, replicates.shape).any(axis=0) & np.isfinite(deltas)
    if not usable.any():
        return np.full(replicates.shape[0], math.nan)
    scale = np.broadcast_to(scale, replicates.shape)
    with np.errstate(invalid="ignore"):
        t = np.abs(replicates[:, usable] - deltas[usable]) / scale[:, usable]
    t = np.where(np.isfinite(t), t, 0.0)  # a replicate undefined in one column counts the others
    return t.max(axis=1)


def simultaneous(deltas: Sequence[float], replicates: np.ndarray, level: float = FAMILY_LEVEL,
                 studentized: Sequence[Optional[Studentized]] | None = None
                 ) -> tuple[list[tuple[float, float]], np.ndarray, float]:
    """Max-|t| simultaneous intervals of `deltas` (m,) from paired replicates (R, m): the
    intervals, the single-step adjusted p-values, and the critical value c.

    With `studentized` (each delta's jackknife se on the val set and on every replicate, or None),
    the max-|t| is the bootstrap-t's: each replicate is divided by its own se and each interval is
    Δ ± c·se(val set). A delta without one falls back to its bootstrap se, on every replicate alike.
    """
    d = np.asarray(deltas, dtype=float)
    reps = np.asarray(replicates, dtype=float).reshape(-1, d.size)
    se, scale = studentizing_scales(reps, studentized)
    t_max = max_t(d, reps, scale)
    finite = t_max[np.isfinite(t_max)]
    if finite.size == 0:
        return [(math.nan, math.nan)] * d.size, np.full(d.size, math.nan), math.nan
    c = float(np.quantile(finite, level))
    intervals = [(float(x - c * s), float(x + c * s)) if np.isfinite(s) and s > 0 and np.isfinite(x)
                 else (math.nan, math.nan) for x, s in zip(d, se)]
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = np.abs(d) / se
    p = np.array([(np.count_nonzero(finite >= t) + 1) / (finite.size + 1) if np.isfinite(t) else math.nan
                  for t in observed])
    return intervals, p, c


def studentizing_scales(replicates: np.ndarray, studentized: Sequence[Optional[Studentized]] | None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(m,) the se of each delta on the val set and (R, m) the se each replicate is divided by:
    the jackknife's where given (bootstrap-t), else the bootstrap se on every replicate."""
    se = standard_errors(replicates)
    scale = np.broadcast_to(se, replicates.shape).copy()
    for j, s in enumerate(studentized or ()):
        if s is not None and s.replicate_se.size >= replicates.shape[0]:
            se[j], scale[:, j] = s.se, s.replicate_se[:replicates.shape[0]]
    return se, scale


def adjust(deltas: Sequence[float], replicates: np.ndarray, raw_ci95: Sequence[tuple[float, float]],
           raw_p: Sequence[float], method: str, studentized: Sequence[Optional[Studentized]] | None = None
           ) -> list[Adjusted]:
    """Each delta's decision within its family (all of `deltas`) under `method`; `studentized`
    (per delta, or None) makes the simultaneous intervals the bootstrap-t's."""
    check_adjustment(method)
    d = np.asarray(deltas, dtype=float)
    family = int(np.isfinite(d).sum())
    if method == "simultaneous":
        intervals, p, _ = simultaneous(d, replicates, studentized=studentized)
        return [Adjusted(method, ci, float(pv), excludes_zero(ci), family) for ci, pv in zip(intervals, p)]
    if method == "holm":
        p = holm_adjusted(raw_p)
        return [Adjusted(method, tuple(ci), float(pv), bool(pv <= ALPHA), family)
                for ci, pv in zip(raw_ci95, p)]
    return [Adjusted(method, tuple(ci), float(pv), excludes_zero(ci), family) for ci, pv in zip(raw_ci95, raw_p)]


def excludes_zero(ci: tuple[float, float]) -> bool:
    lo, hi = ci
    return bool(lo > 0 or hi < 0)
