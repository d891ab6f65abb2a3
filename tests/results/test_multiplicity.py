"""Family adjustments of bootstrap deltas: Holm's step-down and max-|t| simultaneous intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asffbench.errors import UserError
from asffbench.results.multiplicity import adjust, holm_adjusted, simultaneous
from asffbench.results.significance import percentile_interval, two_sided_p


def test_holm_matches_the_step_down_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03, 1*0.04 made monotone
    assert np.allclose(holm_adjusted(p), [0.03, 0.06, 0.06, 0.02])


def test_holm_leaves_nan_out_of_the_family():
    adjusted = holm_adjusted([0.02, math.nan, 0.04])
    assert math.isnan(adjusted[1])
    assert np.allclose(adjusted[[0, 2]], [0.04, 0.04])


def null_family(m: int, replicates: int, rng: np.random.Generator, correlation: float = 0.0):
    shared = rng.normal(size=(replicates, 1))
    reps = math.sqrt(correlation) * shared + math.sqrt(1 - correlation) * rng.normal(size=(replicates, m))
    return reps


def test_simultaneous_intervals_are_wider_than_each_alone_and_cover_together():
    rng = np.random.default_rng(0)
    reps = null_family(10, 4000, rng)
    intervals, p, c = simultaneous(np.zeros(10), reps)
    assert c > 2.5  # 10 independent deltas: the critical value is well above 1.96
    for (lo, hi), col in zip(intervals, reps.T):
        raw_lo, raw_hi = percentile_interval(col)
        assert lo < raw_lo and hi > raw_hi
    # the share of replicates whose every column lies within c se of 0 is the family level
    inside = (np.abs(reps) <= c * reps.std(axis=0, ddof=1)).all(axis=1).mean()
    assert inside == pytest.approx(0.95, abs=0.01)


def test_correlated_families_need_a_smaller_critical_value():
    rng = np.random.default_rng(1)
    _, _, independent = simultaneous(np.zeros(8), null_family(8, 4000, rng))
    _, _, correlated = simultaneous(np.zeros(8), null_family(8, 4000, rng, correlation=0.9))
    assert correlated < independent - 0.3


def test_a_large_delta_stays_significant_after_adjustment_and_a_marginal_one_does_not():
    rng = np.random.default_rng(2)
    deltas = np.array([6.0, 2.2, 0.0, 0.0, 0.0, 0.0])
    reps = deltas + null_family(6, 2000, rng)
    raw_ci = [percentile_interval(c) for c in reps.T]
    raw_p = [two_sided_p(c) for c in reps.T]
    for method in ("holm", "simultaneous"):
        decided = adjust(deltas, reps, raw_ci, raw_p, method)
        assert [a.significant for a in decided] == [True, False, False, False, False, False], method
        assert all(a.family == 6 for a in decided)
    unadjusted = adjust(deltas, reps, raw_ci, raw_p, "none")
    assert unadjusted[1].significant  # 2.2 se: significant alone, not among six


def test_unknown_method_is_refused():
    with pytest.raises(UserError, match="choose one of"):
        adjust([0.0], np.zeros((5, 1)), [(0, 0)], [1.0], "bonferroni")
