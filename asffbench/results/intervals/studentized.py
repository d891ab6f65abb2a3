"""Studentizing a bootstrap delta: a jackknife standard error, on the val set and on every resample.

The max-|t| simultaneous intervals (`multiplicity.simultaneous`) divide each delta by a standard
error. Dividing the replicates by the *observed* bootstrap se treats that se as exact; at small val
sets it is not (at 150 images it varies by about ±10% from one val set to the next, independently
of the delta's own error), so |Δ̂|/se has heavier tails than the bootstrap's max-|t| and the family
rejects too often. The bootstrap-t cure is to studentize every replicate by its own se. A nested
bootstrap per replicate would cost R x R evaluations; instead each run is also scored on G
leave-one-group-out image sets (the jackknife, G <= MAX_GROUPS, one image per group for smaller val
sets), which gives each group's influence U_g on the delta. The se of the delta on any image
weighting q (q_g: the share of the weighting's images in group g) is then the linearised one,

    se(q)² = (Σ_g q_g·U_g² − (Σ_g q_g·U_g)²) / G,

on the val set (q_g = its share of the images) and on every bootstrap resample (q = the resample's
counts). G extra evaluations per run (20% of 1000 replicates at most). Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_GROUPS = 200


def group_of_images(images: int, max_groups: int = MAX_GROUPS) -> np.ndarray:
    """(images,) the jackknife group of each image (by position: image k goes to group k mod G)."""
    return np.arange(images) % min(images, max_groups)


def jackknife_weights(images: int, max_groups: int = MAX_GROUPS) -> np.ndarray:
    """(G, images) image weights with one group left out per row."""
    groups = group_of_images(images, max_groups)
    return (groups[None, :] != np.arange(groups.max() + 1)[:, None]).astype(float)


def group_shares(weights: np.ndarray, max_groups: int = MAX_GROUPS) -> np.ndarray:
    """(R, G) the share of each resample's drawn images that falls in each jackknife group."""
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    replicates, images = weights.shape
    g = min(images, max_groups)
    padded = np.zeros((replicates, -(-images // g) * g))
    padded[:, :images] = weights  # image k sits in column k mod g of each block of g
    counts = padded.reshape(replicates, -1, g).sum(axis=1)
    return counts / counts.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Studentized:
    """A delta's jackknife se on the val set (`se`) and on every bootstrap replicate (`replicate_se`)."""

    se: float
    replicate_se: np.ndarray  # (R,)

    def scaled(self, factor: float) -> "Studentized":
        return Studentized(self.se * factor, self.replicate_se * factor)


def influence(leave_out: np.ndarray) -> np.ndarray:
    """(G,) each group's influence on the statistic from its leave-one-group-out values (G,)."""
    g = leave_out.size
    return (g - 1) * (np.mean(leave_out) - leave_out)


def linear_se(shares: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The linearised se of the statistic on each row of `shares` (..., G), influences `u` (G,)."""
    first = shares @ u
    second = shares @ (u * u)
    return np.sqrt(np.maximum(second - first * first, 0.0) / u.size)


def studentize(leave_out: np.ndarray, shares: np.ndarray, val_shares: np.ndarray) -> Studentized | None:
    """The delta's se on the val set and on each resample from its leave-one-group-out values (G,),
    the resamples' group shares (R, G) and the val set's own (G,); None where undefined (NaN)."""
    if not np.all(np.isfinite(leave_out)):
        return None
    u = influence(leave_out)
    se = float(linear_se(val_shares, u))
    if not se > 0:
        return None
    return Studentized(se, linear_se(shares, u))
