"""Power planning: how many seeds and val images a study needs to detect a given delta.

The model of a study's observed delta Δ̂ (mean over `k` seeds of variant B, minus the same of A,
scored on `n` val images) is a sum of independent noises:

    Var(Δ̂) = 2·σ²_seed / k  +  (τ²_common + τ²_seed / k) / n

- σ²_seed: training's randomness (seed to seed), per run; it shrinks only with more seeds;
- τ²_common / n: the image sampling of the part of the per-image difference that the two variants
  share across seeds; it shrinks only with more images;
- τ²_seed / (k·n): the image sampling of the per-image difference that each seed has on its own;
  it shrinks with either.

Everything is estimated from a pilot (at least two seeds of at least two variants, every run
scored on the same n₀ images, with the paired bootstrap's replicates over those images):

- τ²(1) = n₀ · Var*(b_j − a_i), the bootstrap variance of single-run differences, averaged over
  seed pairs; τ²(k̄) = n₀ · Var*(mean b − mean a) for the seed means. Their difference gives
  τ²_seed (= (τ²(1) − τ²(k̄)) / (1 − 1/k̄)) and τ²_common = τ²(1) − τ²_seed, each floored at 0;
- σ²_seed = s²_within − τ²_seed / (2·n₀), floored at 0, where s²_within is the pooled variance of
  a variant's seeds' point values (on the fixed pilot images it holds training's variance plus
  each run's own image noise, τ²_seed / 2n₀ per run).

Power at 5% two-sided is the normal approximation Φ(|δ|/sd − z) + Φ(−|δ|/sd − z), z = z₀.₉₇₅;
the smallest detectable delta at power 1−β is (z + z_{1−β})·sd. Numpy and the standard library only.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Mapping, Optional, Sequence

import numpy as np

ALPHA = 0.05
DEFAULT_POWER = 0.8
DEFAULT_SEEDS = (1, 2, 3, 4, 5, 8, 10)
MAX_IMAGES = 10_000_000  # beyond this a design counts as unreachable by adding images
_NORMAL = NormalDist()


@dataclass(frozen=True)
class PilotRun:
    """One pilot run: its metric on the pilot images and on every shared bootstrap replicate."""

    point: float
    replicates: np.ndarray  # (R,), the same image resamples for every run of the pilot


@dataclass(frozen=True)
class Variances:
    """The variance components of the model above, in the metric's units squared."""

    seed: float  # σ²_seed, per run
    image_common: float  # τ²_common, per image
    image_seed: float  # τ²_seed, per image
    pilot_images: int
    pilot_seeds: float  # k̄ of the pilot (harmonic mean of its variants' seed counts)

    def delta_variance(self, seeds: float, images: float) -> float:
        return 2 * self.seed / seeds + (self.image_common + self.image_seed / seeds) / images

    def to_dict(self) -> dict:
        return asdict(self)


def z_two_sided(alpha: float = ALPHA) -> float:
    return _NORMAL.inv_cdf(1 - alpha / 2)


def power(delta: float, variance: float, alpha: float = ALPHA) -> float:
    """Probability that a two-sided level-alpha z-test rejects Δ = 0 when the true delta is `delta`."""
    if variance <= 0:
        return 1.0 if delta != 0 else alpha
    shift, z = abs(delta) / math.sqrt(variance), z_two_sided(alpha)
    return _NORMAL.cdf(shift - z) + _NORMAL.cdf(-shift - z)


def detectable_delta(variance: float, target_power: float = DEFAULT_POWER, alpha: float = ALPHA) -> float:
    """The smallest true delta detected with `target_power` (ignoring the far tail's tiny share)."""
    return (z_two_sided(alpha) + _NORMAL.inv_cdf(target_power)) * math.sqrt(max(variance, 0.0))


def images_needed(v: Variances, seeds: int, delta: float, target_power: float = DEFAULT_POWER,
                  alpha: float = ALPHA) -> Optional[int]:
    """The fewest val images that reach `target_power` with `seeds` seeds per variant; None when no
    number of images can (the seeds' own variance alone is too large)."""
    allowed = (abs(delta) / (z_two_sided(alpha) + _NORMAL.inv_cdf(target_power))) ** 2
    room = allowed - 2 * v.seed / seeds
    per_image = v.image_common + v.image_seed / seeds
    if room <= 0:
        return None
    if per_image <= 0:
        return 1
    needed = math.ceil(per_image / room - 1e-9)
    return needed if needed <= MAX_IMAGES else None


def seeds_needed(v: Variances, images: int, delta: float, target_power: float = DEFAULT_POWER,
                 alpha: float = ALPHA, max_seeds: int = 1000) -> Optional[int]:
    """The fewest seeds per variant that reach `target_power` on `images` val images; None when
    even `max_seeds` cannot (the images' shared variance alone is too large)."""
    allowed = (abs(delta) / (z_two_sided(alpha) + _NORMAL.inv_cdf(target_power))) ** 2
    room = allowed - v.image_common / images
    per_seed = 2 * v.seed + v.image_seed / images
    if room <= 0:
        return None
    needed = max(1, math.ceil(per_seed / room - 1e-9))
    return needed if needed <= max_seeds else None


@dataclass(frozen=True)
class PlanRow:
    seeds: int
    images: Optional[int]  # None: unreachable with this many seeds
    power_at_pilot_images: float


def plan_rows(v: Variances, delta: float, target_power: float = DEFAULT_POWER,
              seeds: Sequence[int] = DEFAULT_SEEDS) -> list[PlanRow]:
    """For each seed count, the val images needed and the power on the pilot's own image count."""
    return [PlanRow(k, images_needed(v, k, delta, target_power),
                    power(delta, v.delta_variance(k, v.pilot_images)))
            for k in seeds]


def estimate_variances(pilot: Mapping[str, Sequence[PilotRun]], images: int) -> Variances:
    """The variance components from a pilot: variant name -> its seeds' runs, on `images` images.
    Raises ValueError below two variants with two seeds each."""
    variants = {name: list(runs) for name, runs in pilot.items() if len(runs) >= 2}
    if len(variants) < 2:
        raise ValueError("a pilot needs at least two seeds of at least two variants")
    within = pooled_seed_variance([[r.point for r in runs] for runs in variants.values()])
    single, means, harmonic = [], [], []
    for a, b in itertools.combinations(variants.values(), 2):
        single.append(np.mean([finite_var(rb.replicates - ra.replicates) for ra in a for rb in b]))
        means.append(finite_var(np.mean([r.replicates for r in b], axis=0) - np.mean([r.replicates for r in a], axis=0)))
        harmonic.append(2 / (1 / len(a) + 1 / len(b)))
    tau_one, tau_k, k = images * float(np.mean(single)), images * float(np.mean(means)), float(np.mean(harmonic))
    image_seed = max(0.0, (tau_one - tau_k) / (1 - 1 / k))
    image_common = max(0.0, tau_one - image_seed)
    seed = max(0.0, within - image_seed / (2 * images))
    return Variances(seed=seed, image_common=image_common, image_seed=image_seed, pilot_images=images,
                     pilot_seeds=k)


def pooled_seed_variance(groups: Sequence[Sequence[float]]) -> float:
    """Pooled within-group sample variance (ddof=1 in each group)."""
    squares = sum(float(np.sum((np.asarray(g) - np.mean(g)) ** 2)) for g in groups)
    dof = sum(len(g) - 1 for g in groups)
    return squares / dof


def finite_var(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.var(values, ddof=1)) if values.size > 1 else math.nan
