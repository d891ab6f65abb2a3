"""bench/rounds.py: the alternating rounds the benchmark scripts compare variants with."""

from __future__ import annotations

import py_compile
from pathlib import Path

from asffbench.bench.rounds import alternating_rounds, medians


def test_each_measure_once_per_round_in_turn():
    calls = []

    def measure(name: str, value: float):
        return lambda: calls.append(name) or value + len(calls)

    samples = alternating_rounds({"a": measure("a", 0.0), "b": measure("b", 100.0)}, rounds=3)
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert samples == {"a": [1.0, 3.0, 5.0], "b": [102.0, 104.0, 106.0]}
    assert medians(samples) == {"a": 3.0, "b": 104.0}


def test_the_benchmark_scripts_compile(tmp_path):
    scripts = sorted((Path(__file__).parents[1] / "benchmarks").glob("bench_*.py"))
    assert scripts
    for script in scripts:
        py_compile.compile(str(script), cfile=str(tmp_path / f"{script.stem}.pyc"), doraise=True)
