"""The bootstrap-t max-|t| keeps its family-wise rate where the plain one does not: many small
families of sample means, whose bootstrap se varies from sample to sample (200 draws of
16 deltas, numpy only: about a second)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asffbench.results.intervals.bootstrap import bootstrap_weights
from asffbench.results.intervals.multiplicity import simultaneous
from asffbench.results.intervals.studentized import (Studentized, group_of_images, group_shares, jackknife_weights,
                                                     linear_se, studentize)


def mean_family(images: int, rows: int, columns: int, replicates: int, rng: np.random.Generator):
    """A table of `rows` x `columns` deltas of per-image means against a shared baseline, all of
    true value 0: the deltas, their replicates and their jackknife studentization."""
    base = rng.standard_t(5, (images, columns))
    per_image = np.concatenate([rng.standard_t(5, (images, columns)) - base for _ in range(rows)], axis=1)
    weights = bootstrap_weights(images, replicates, rng)
    replicates_ = weights @ per_image / images
    leave_out = jackknife_weights(images) @ per_image / (images - 1)
    shares, val_shares = group_shares(weights), group_shares(np.ones(images))[0]
    studentized = [studentize(column, shares, val_shares) for column in leave_out.T]
    return per_image.mean(axis=0), replicates_, studentized


def family_rates(draws: int, images: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    hits = {"plain": 0, "studentized": 0}
    for _ in range(draws):
        deltas, replicates, studentized = mean_family(images, 4, 4, 200, rng)
        for name, extra in (("plain", None), ("studentized", studentized)):
            intervals, _, _ = simultaneous(deltas, replicates, studentized=extra)
            hits[name] += any(lo > 0 or hi < 0 for lo, hi in intervals)
    return {name: count / draws for name, count in hits.items()}


def test_studentized_max_t_keeps_the_family_wise_rate_where_the_plain_one_runs_hot():
    draws = 200
    rates = family_rates(draws, images=15, seed=0)
    error = 2 * math.sqrt(0.05 * 0.95 / draws)  # two Monte-Carlo standard errors at the nominal 5%
    assert rates["plain"] > 0.05 + error  # the plain max-|t| treats a noisy se as exact
    assert rates["studentized"] <= 0.05 + error


def test_jackknife_se_of_a_mean_is_the_textbook_one():
    rng = np.random.default_rng(1)
    x = rng.normal(size=37)
    leave_out = jackknife_weights(37) @ x / 36
    s = studentize(leave_out, group_shares(np.ones((2, 37))), group_shares(np.ones(37))[0])
    assert s.se == pytest.approx(np.std(x, ddof=1) / math.sqrt(37) * math.sqrt(36 / 37), rel=1e-9)
    assert np.allclose(s.replicate_se, s.se)


def test_large_val_sets_are_grouped_and_every_image_is_in_one_group():
    groups = group_of_images(1000, max_groups=200)
    assert groups.max() == 199 and np.bincount(groups).min() == 5
    assert jackknife_weights(1000, 200).shape == (200, 1000)
    shares = group_shares(np.arange(2000.0).reshape(2, 1000), 200)
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert np.allclose(linear_se(np.full(4, 0.25), np.array([1.0, -1.0, 1.0, -1.0])), 0.5)


def test_undefined_leave_out_values_give_no_studentization():
    assert studentize(np.array([0.1, math.nan, 0.2]), np.full((3, 3), 1 / 3), np.full(3, 1 / 3)) is None


def test_simultaneous_divides_each_replicate_by_its_own_se_and_widens_by_the_val_set_se():
    rng = np.random.default_rng(4)
    replicates = rng.normal(size=(500, 3))
    deltas = np.zeros(3)
    own = [Studentized(2.0, np.full(500, 2.0)), None, Studentized(1.0, rng.uniform(0.5, 1.5, 500))]
    intervals, _, c = simultaneous(deltas, replicates, studentized=own)
    scale = np.column_stack([np.full(500, 2.0), np.full(500, np.std(replicates[:, 1], ddof=1)), own[2].replicate_se])
    assert c == pytest.approx(np.quantile((np.abs(replicates) / scale).max(axis=1), 0.95))
    assert intervals[0] == pytest.approx((-2.0 * c, 2.0 * c))  # the jackknife se of the val set
    assert intervals[2] == pytest.approx((-c, c))
