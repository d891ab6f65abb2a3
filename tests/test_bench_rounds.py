"""bench/rounds.py: the alternating rounds the benchmark scripts compare variants with."""

from __future__ import annotations

import py_compile
from pathlib import Path

import torch
from torch import nn

from asffbench.bench.rounds import alternating_rounds, forward_ms_rounds, latency_table, medians
from asffbench.bench.speed import SpeedProtocol


def test_each_measure_once_per_round_in_turn():
    calls = []

    def measure(name: str, value: float):
        return lambda: calls.append(name) or value + len(calls)

    samples = alternating_rounds({"a": measure("a", 0.0), "b": measure("b", 100.0)}, rounds=3)
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert samples == {"a": [1.0, 3.0, 5.0], "b": [102.0, 104.0, 106.0]}
    assert medians(samples) == {"a": 3.0, "b": 104.0}


def test_latency_table_divides_each_median_by_the_baselines():
    lines = latency_table({"base": [2.0, 4.0, 3.0], "other": [6.0, 9.0, 12.0]}, "base", "neck")
    assert lines[0].split() == ["neck", "forward", "ms", "min..max", "of", "rounds", "ratio", "vs", "base"]
    assert lines[1].split() == ["base", "3.0", "2.0..4.0", "1.000"]
    assert lines[2].split() == ["other", "9.0", "6.0..12.0", "3.000"]
    assert latency_table({"other": [1.0]}, "base", "neck")[1].split()[-1] == "-"  # baseline not timed


def test_forward_rounds_time_every_model_each_round():
    protocol = SpeedProtocol(warmup=0, iters=1, repeats=1, batch_size=1, precision="fp32", fused=False,
                             img_size=16, device="cpu", nms_included=False)
    models = {"conv": nn.Conv2d(3, 4, 3).eval(), "identity": nn.Identity().eval()}
    samples = forward_ms_rounds(models, protocol, torch.device("cpu"), rounds=2)
    assert list(samples) == ["conv", "identity"]
    assert all(len(values) == 2 and all(v > 0 for v in values) for values in samples.values())


def test_the_benchmark_scripts_compile(tmp_path):
    scripts = sorted((Path(__file__).parents[1] / "benchmarks").glob("bench_*.py"))
    assert scripts
    for script in scripts:
        py_compile.compile(str(script), cfile=str(tmp_path / f"{script.stem}.pyc"), doraise=True)
