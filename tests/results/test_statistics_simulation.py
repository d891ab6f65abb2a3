"""The statistics against synthetic detections of known true ΔAP, at a size CI can afford (a few
seconds): each bound is the target plus two Monte-Carlo standard errors of this many draws. The
benchmark benchmarks/bench_statistics.py runs the same checks with hundreds of draws (numbers in
docs/statistics.md); tests/results/test_studentized.py holds the procedure to its rate with 200
families in under a second."""

from __future__ import annotations

import math

import pytest

from asffbench.results.intervals.simulation import coverage, false_positive_rates, true_delta

pytestmark = pytest.mark.slow


def monte_carlo_error(rate: float, draws: int) -> float:
    return 2 * math.sqrt(rate * (1 - rate) / draws)


def test_adjusted_tables_keep_the_family_wise_rate_and_unadjusted_ones_do_not():
    draws = 12
    rates = false_positive_rates(draws=draws, rows=4, images=40, replicates=100, seed=3,
                                 methods=("none", "simultaneous"))
    assert rates["simultaneous"] <= 0.05 + monte_carlo_error(0.05, draws)
    assert rates["none"] > rates["simultaneous"]  # 16 deltas each at 5%: about half the tables


def test_intervals_cover_the_true_delta_at_their_stated_rate():
    draws = 15
    truth = true_delta(0.2, images=2000)
    cov = coverage(draws=draws, skill_gap=0.2, images=40, replicates=100, truth=truth)
    assert cov["single"] >= 0.95 - monte_carlo_error(0.95, draws)
    assert cov["simultaneous"] >= 0.95 - monte_carlo_error(0.95, draws)
