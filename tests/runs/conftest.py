"""Helpers for the runs/sweep tests: the tiniest real runs this machine can afford."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# A run in a few seconds on one CPU core: tiny model, a dozen synthetic 160 px images, 64 px input,
# plain YOLOv3 head and loss (tricks=none), one timed benchmark iteration. train.epochs=0
# evaluates the freshly built model.
TINY = {
    "model": "tiny",
    "model.num_classes": 6,
    "tricks": "none",
    "data": "synth",
    "data.synth.images": 12,
    "data.synth.image_size": 160,
    "data.workers": 0,
    "device": "cpu",
    "img_size": 64,
    "train.epochs": 0,
    "eval.batch_size": 8,
    "bench.warmup": 1,
    "bench.iters": 1,
    "bench.repeats": 1,
}

# Short epochs of real training (plain YOLOv3 loss, fixed size, checkpoint after every epoch).
TINY_TRAIN = {
    **TINY,
    "train.epochs": 2,
    "train.batch_size": 2,
    "train.max_iters_per_epoch": 2,
    "train.warmup_epochs": 0.5,
    "train.amp": False,
    "train.log_every": 1,
}


def as_overrides(settings: dict) -> list[str]:
    from asffbench.record.layout import format_value

    return [f"{key}={format_value(value)}" for key, value in settings.items()]


@pytest.fixture
def write_sweep(tmp_path: Path):
    """Write a sweep file into tmp_path; returns its path."""

    def write(name: str, axes: dict, overrides: dict, text: str | None = None) -> Path:
        path = tmp_path / f"{name}.yaml"
        if text is None:
            text = yaml.safe_dump({"axes": axes, "overrides": overrides}, sort_keys=False)
        path.write_text(text)
        return path

    return write


HOLD_SCRIPT = """
import sys, time
from asffbench.runs.lock import RunLock
lock = RunLock(sys.argv[1], attempt="holder-attempt", use_flock=sys.argv[2] == "flock")
assert lock.acquire() is None
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder_process():
    """Start a separate process that holds a run dir; kill -9 at the end of the test."""
    started = []

    def start(run_dir: Path, mode: str = "flock") -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD_SCRIPT, str(run_dir), mode], stdout=subprocess.PIPE, text=True
        )
        started.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
