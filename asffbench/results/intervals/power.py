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
- σ²_seed = s²_within − τ²_seed / (2·n₀) where s²_within is the pooled variance of a variant's
  seeds' point values (on the fixed pilot images it holds training's variance plus each run's own
  image noise, τ²_seed / 2n₀ per run), kept only where the seeds spread significantly more than
  that image noise alone would make them: F = s²_within / (τ²_seed / 2n₀) against χ²_ν / ν
  (ν = Σ(seeds − 1), the image noise's estimate taken as exact) at `SEED_TEST_LEVEL`, else 0.
  Flooring the difference at 0 instead reads a seed variance into most pilots of a study that
  has none (a 4-seed pilot's s²_within has 6 degrees of freedom); see docs/statistics.md.

The seeds' few degrees of freedom make σ²_seed the least certain part: `plan_rows` also gives the
power with σ²_seed at its one-sided 95% upper confidence limit (χ²_ν), a lower bound on the power.

Power at 5% two-sided is the normal approximation Φ(|δ|/sd − z) + Φ(−|δ|/sd − z), z = z₀.₉₇₅;
the smallest detectable delta at power 1−β is (z + z_{1−β})·sd. Numpy and the standard library only.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, replace
from statistics import NormalDist
from typing import Mapping, Optional, Sequence

import numpy as np

ALPHA = 0.05
DEFAULT_POWER = 0.8
DEFAULT_SEEDS = (1, 2, 3, 4, 5, 8, 10)
SEED_TEST_LEVEL = 0.10  # the seed variance is kept where the seeds' excess spread is significant at this level
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
    seed_excess_p: float = math.nan  # p-value of the seeds' spread beyond their image noise
    seed_excess_raw: float = math.nan  # s²_within − τ²_seed / 2n₀ before the test (may be < 0)
    seed_upper: float = math.nan  # σ²_seed's one-sided 95% upper confidence limit

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
    power_at_seed_upper: float  # the same with σ²_seed at its 95% upper limit: a lower bound


def plan_rows(v: Variances, delta: float, target_power: float = DEFAULT_POWER,
              seeds: Sequence[int] = DEFAULT_SEEDS) -> list[PlanRow]:
    """For each seed count, the val images needed and the power on the pilot's own image count."""
    cautious = replace(v, seed=max(v.seed, v.seed_upper)) if math.isfinite(v.seed_upper) else v
    return [PlanRow(k, images_needed(v, k, delta, target_power),
                    power(delta, v.delta_variance(k, v.pilot_images)),
                    power(delta, cautious.delta_variance(k, v.pilot_images)))
            for k in seeds]


def estimate_variances(pilot: Mapping[str, Sequence[PilotRun]], images: int,
                       seed_test_level: float = SEED_TEST_LEVEL) -> Variances:
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
    dof = sum(len(runs) - 1 for runs in variants.values())
    own_noise = image_seed / (2 * images)
    excess_p = seed_excess_p(within, own_noise, dof)
    seed = within - own_noise if excess_p < seed_test_level else 0.0
    return Variances(seed=max(0.0, seed), image_common=image_common, image_seed=image_seed, pilot_images=images,
                     pilot_seeds=k, seed_excess_p=excess_p, seed_excess_raw=within - own_noise,
                     seed_upper=seed_variance_upper(within, own_noise, dof))


def seed_excess_p(within: float, own_noise: float, dof: int) -> float:
    """One-sided p-value of seeds spreading more than their own image noise: s²_within / own_noise
    against χ²_dof / dof, the image noise taken as known (it comes from the bootstrap over all the
    pilot's images, far more degrees of freedom than the seeds'). 0 when there is no image noise."""
    if own_noise <= 0:
        return 0.0 if within > 0 else 1.0
    return chi2_survival(dof * within / own_noise, dof)


def seed_variance_upper(within: float, own_noise: float, dof: int, level: float = 0.95) -> float:
    """The one-sided upper confidence limit of σ²_seed: σ²_seed + own_noise is at most
    dof·s²_within / χ²_dof's (1 − level) quantile with probability `level`."""
    return max(0.0, dof * within / chi2_quantile(1 - level, dof) - own_noise)


def chi2_quantile(probability: float, dof: int) -> float:
    """The χ²_dof quantile (P(χ² ≤ x) = probability), by bisection on `chi2_survival`."""
    low, high = 0.0, float(dof) + 10 * math.sqrt(2 * dof) + 10
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if 1 - chi2_survival(middle, dof) < probability else (low, middle)
    return (low + high) / 2


def chi2_survival(x: float, dof: int) -> float:
    """P(χ²_dof > x) for a whole number of degrees of freedom, in closed form (the Poisson sum for
    even dof, the normal tail plus its series for odd)."""
    if x <= 0:
        return 1.0
    half = x / 2
    if dof % 2 == 0:
        term, total = 1.0, 1.0
        for j in range(1, dof // 2):
            term *= half / j
            total += term
        return min(1.0, math.exp(-half) * total)
    root = math.sqrt(x)
    term, total = root, 0.0
    for j in range(1, (dof + 1) // 2):
        total += term
        term *= x / (2 * j + 1)
    return min(1.0, 2 * (1 - _NORMAL.cdf(root)) + math.sqrt(2 / math.pi) * math.exp(-half) * total)


def pooled_seed_variance(groups: Sequence[Sequence[float]]) -> float:
    """Pooled within-group sample variance (ddof=1 in each group)."""
    squares = sum(float(np.sum((np.asarray(g) - np.mean(g)) ** 2)) for g in groups)
    dof = sum(len(g) - 1 for g in groups)
    return squares / dof


def finite_var(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.var(values, ddof=1)) if values.size > 1 else math.nan
