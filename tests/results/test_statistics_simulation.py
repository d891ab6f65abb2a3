"""The statistics against synthetic detections of known true ΔAP (small size; the benchmark
benchmarks/bench_statistics.py runs the same checks with many more draws)."""

from __future__ import annotations

import pytest

from asffbench.results.simulation import coverage, false_positive_rates, power_check, true_delta

pytestmark = pytest.mark.slow


def test_adjusted_tables_keep_the_family_wise_rate_and_unadjusted_ones_do_not():
    rates = false_positive_rates(draws=40, rows=4, images=60, replicates=150, seed=3)
    # 40 null tables of 16 deltas: a 5% rate expects 2 tables with a `*`; 4 leaves room for chance
    assert rates["simultaneous"] <= 0.1
    assert rates["holm"] <= 0.1
    assert rates["none"] >= 0.25


def test_intervals_cover_and_plan_predicts_the_rejection_rate():
    truth = true_delta(0.2, images=4000)
    cov = coverage(draws=30, skill_gap=0.2, images=60, replicates=150, truth=truth)
    assert 0.8 <= cov["single"] <= 1.0
    assert cov["simultaneous"] >= 0.8
    check = power_check(draws=40, skill_gap=0.2, images=200, pilot_images=100, replicates=150, truth=truth)
    assert 0.2 < check["predicted"] < 0.95  # a design where power is neither trivial nor hopeless
    assert check["observed"] == pytest.approx(check["predicted"], abs=0.2)
