"""Power planning: the variance model, its estimation from a pilot, and the seeds x images table."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from asffbench.results.power import (PilotRun, Variances, detectable_delta, estimate_variances, images_needed,
                                     plan_rows, power, seeds_needed)

V = Variances(seed=0.09, image_common=40.0, image_seed=60.0, pilot_images=500, pilot_seeds=2)


def test_power_is_alpha_at_zero_and_rises_with_the_delta():
    assert power(0.0, 1.0) == pytest.approx(0.05)
    assert power(1.0, 1.0) < power(2.0, 1.0) < power(3.0, 1.0)
    assert power(detectable_delta(1.0, 0.8), 1.0) == pytest.approx(0.8, abs=0.001)


def test_images_needed_reach_the_power_and_one_fewer_does_not():
    for seeds in (2, 4, 8):
        n = images_needed(V, seeds, 1.0, 0.8)
        assert power(1.0, V.delta_variance(seeds, n)) >= 0.8
        assert power(1.0, V.delta_variance(seeds, n - 1)) < 0.8


def test_seeds_alone_can_make_a_delta_unreachable():
    # 2 * 0.09 / 1 = 0.18 of variance from one seed each: more than a 1.0 delta allows at 80%
    assert images_needed(V, 1, 1.0) is None
    assert images_needed(V, 3, 1.0) is not None


@pytest.mark.parametrize("delta", [0.3, 0.5, 1.0, 2.0])
def test_more_of_one_never_needs_more_of_the_other(delta):
    seeds = range(1, 12)
    needed_images = [images_needed(V, k, delta) for k in seeds]
    reachable = [n for n in needed_images if n is not None]
    assert reachable == sorted(reachable, reverse=True)
    # once reachable with k seeds, reachable with every larger k
    first = next((i for i, n in enumerate(needed_images) if n is not None), len(needed_images))
    assert all(n is not None for n in needed_images[first:])
    needed_seeds = [seeds_needed(V, n, delta) for n in (50, 100, 500, 1000, 5000, 20000)]
    reachable = [k for k in needed_seeds if k is not None]
    assert reachable == sorted(reachable, reverse=True)


def test_plan_rows_give_the_power_at_the_pilot_size():
    rows = plan_rows(V, 2.0, seeds=(1, 2, 4))
    assert [r.seeds for r in rows] == [1, 2, 4]
    assert rows[0].power_at_pilot_images < rows[1].power_at_pilot_images < rows[2].power_at_pilot_images


def simulated_pilot(rng, seed_var=0.25, common=30.0, per_seed=50.0, images=400, seeds=3, replicates=4000):
    """Runs drawn from the model itself: each run's per-image effects are a shared variant part
    plus its own; the bootstrap replicates are their image-sampling noise."""
    pilot = {}
    for variant in ("a", "b", "c"):
        shared = rng.normal(0, np.sqrt(common / 2 / images), replicates)
        runs = []
        for _ in range(seeds):
            own = rng.normal(0, np.sqrt(per_seed / 2 / images), replicates)
            training = rng.normal(0, np.sqrt(seed_var))
            image_part = rng.normal(0, np.sqrt(per_seed / 2 / images))  # its own noise on these images
            runs.append(PilotRun(point=training + image_part, replicates=shared + own))
        pilot[variant] = runs
    return pilot, images


def test_estimate_recovers_the_image_components():
    rng = np.random.default_rng(0)
    v = estimate_variances(*simulated_pilot(rng))
    assert v.image_common == pytest.approx(30.0, rel=0.15)
    assert v.image_seed == pytest.approx(50.0, rel=0.15)
    assert v.pilot_images == 400 and v.pilot_seeds == pytest.approx(3)


def test_estimate_recovers_the_seed_variance_on_average():
    rng = np.random.default_rng(1)
    seeds = [estimate_variances(*simulated_pilot(rng, replicates=500)).seed for _ in range(60)]
    assert np.mean(seeds) == pytest.approx(0.25, rel=0.25)


def test_a_pilot_needs_two_seeds_of_two_variants():
    run = PilotRun(0.0, np.zeros(10))
    with pytest.raises(ValueError, match="two seeds of at least two variants"):
        estimate_variances({"a": [run, run], "b": [run]}, 100)
