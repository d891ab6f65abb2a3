"""One run, one owner, between real `asffbench sweep` processes on one sweep directory.

(A kill -9'd owner whose run the next sweep resumes: tests/runs/test_resume.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asffbench.record.storage import read_record
from asffbench.runs.lock import HOLDER_NAME
from tests.runs.conftest import TINY, TINY_TRAIN

# One epoch of two iterations per run: the shortest real training.
ONE_EPOCH = {**TINY_TRAIN, "train.epochs": 1}


def sweep_command(sweep: Path, sweep_dir: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "asffbench.cli.app", "sweep", str(sweep), f"hydra.sweep.dir={sweep_dir}",
            "--no-live", *options]


def start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def log_lines(run_dir: Path) -> list[dict]:
    """Every line of the run's train_log.jsonl, each parsed (a torn line fails the test)."""
    return [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]


def trained_once(run_dir: Path, epochs: int = 1, iters: int = 2) -> bool:
    lines = log_lines(run_dir)
    steps = [line["iter"] for line in lines if "event" not in line]
    ends = [line["epoch"] for line in lines if line.get("event") == "epoch_end"]
    return steps == list(range(epochs * iters)) and ends == list(range(epochs))


@pytest.mark.slow
def test_two_concurrent_sweeps_train_each_run_once_and_both_finish(write_sweep, tmp_path):
    sweep = write_sweep("pair", {"fusion": ["none", "sum"]}, ONE_EPOCH)
    sweep_dir = tmp_path / "sweep"
    first = start(sweep_command(sweep, sweep_dir, "--wait"))
    # The second starts while the first holds a run.
    wait_for(lambda: any(sweep_dir.glob(f"*/{HOLDER_NAME}")) or first.poll() is not None, what="a held run")
    second = start(sweep_command(sweep, sweep_dir, "--wait"))
    outs = [proc.communicate(timeout=600) for proc in (first, second)]
    for proc, (out, err) in zip((first, second), outs):
        assert proc.returncode == 0, err
    completed = [int(out.split("completed ")[1].split(",")[0]) for out, _ in outs]
    assert sum(completed) == 2, outs  # every run trained by exactly one of the two
    assert all("running elsewhere" not in out for out, _ in outs)  # --wait: both saw every run end
    for run in ("fusion=none", "fusion=sum"):
        record = read_record(sweep_dir / run / "record.json").to_dict()
        assert record["status"] == "completed" and record["attempt"]["action"] == "fresh"
        assert trained_once(sweep_dir / run)
        assert not (sweep_dir / run / HOLDER_NAME).exists()


@pytest.mark.slow
def test_a_held_run_is_left_to_its_holder_and_waited_for(cli, write_sweep, tmp_path, holder_process):
    sweep = write_sweep("held", {"fusion": ["none", "sum"]}, TINY)  # no training: the lock is the point
    sweep_dir = tmp_path / "sweep"
    holder = holder_process(sweep_dir / "fusion=none")
    code, out, err = cli("sweep", str(sweep), f"hydra.sweep.dir={sweep_dir}", "--no-live")
    assert code == 0, err
    assert "2 runs: completed 1, skipped 0, failed 0, running elsewhere 1" in out
    assert f"running elsewhere: {sweep_dir / 'fusion=none'} (" in err and f"pid {holder.pid}" in err
    assert not (sweep_dir / "fusion=none" / "record.json").exists()

    # --wait: the sweep waits for the holder; when it dies (kill -9) the run is done here.
    waiting = start(sweep_command(sweep, sweep_dir, "--wait"))
    for line in waiting.stderr:
        if line.startswith("sweep: waiting for 1 run(s) held elsewhere: fusion=none"):
            break
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()  # reaped: a zombie's PID still answers as alive
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert "2 runs: completed 1, skipped 1, failed 0" in out and "elsewhere" not in out
    assert read_record(sweep_dir / "fusion=none" / "record.json").to_dict()["status"] == "completed"
