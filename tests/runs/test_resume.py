"""A sweep killed mid-training resumes from the checkpoint, skips what completed, and ends with
exactly one record per run."""

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
from asffbench.runs.lock import read_holder
from tests.runs.conftest import TINY_TRAIN

TIMEOUT_S = 600


def epoch_ends(run_dir: Path) -> list[dict]:
    log = run_dir / "train_log.jsonl"
    if not log.is_file():
        return []
    lines = []
    for text in log.read_text().splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if line.get("event") == "epoch_end":
            lines.append(line)
    return lines


@pytest.mark.slow
def test_sigkill_mid_training_then_rerun_resumes(cli, write_sweep, tmp_path):
    sweep = write_sweep("resume", {"fusion": ["none", "sum"]}, TINY_TRAIN)
    out_dir = tmp_path / "sweep"
    victim = out_dir / "fusion=sum"
    args = ["sweep", str(sweep), f"hydra.sweep.dir={out_dir}", "--no-live"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "asffbench.cli.app", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT_S
        # Kill once the second run has checkpointed its first epoch, before it finishes.
        while not (epoch_ends(victim) and (victim / "checkpoints" / "last.pt").is_file()):
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "the second run never checkpointed"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        killed_at = time.time()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    first = read_record(out_dir / "fusion=none" / "record.json").to_dict()
    assert first["status"] == "completed"
    interrupted = read_record(victim / "record.json").to_dict()
    assert interrupted["status"] == "running" and interrupted["finished"] is None
    stale = read_holder(victim)  # kill -9 leaves lock.json; the flock went with the process
    assert stale.pid == proc.pid and not stale.is_live()
    epochs_before = [e["epoch"] for e in epoch_ends(victim)]
    assert epochs_before and epochs_before[0] == 0 and len(epochs_before) < TINY_TRAIN["train.epochs"]

    code, out, err = cli(*args)
    assert code == 0, err
    assert "2 runs: completed 1, skipped 1, failed 0" in out
    assert read_record(out_dir / "fusion=none" / "record.json").to_dict() == first  # untouched
    resumed = read_record(victim / "record.json").to_dict()
    assert resumed["status"] == "completed" and resumed["attempt"]["action"] == "resume"
    assert 0 < resumed["train_seconds_attempt"] < resumed["train_seconds"]  # both attempts counted
    assert read_holder(victim) is None  # released at the end
    assert resumed["config"]["train"]["resume"] is True
    assert resumed["experiment_hash"] == interrupted["experiment_hash"]
    ends = epoch_ends(victim)
    assert [e["epoch"] for e in ends][-1] == TINY_TRAIN["train.epochs"] - 1
    assert [e["epoch"] for e in ends].count(0) == 1
    assert ends[0]["time"] < killed_at  # epoch 0 came from before the kill: continued, not redone
    assert sorted(p.parent.name for p in out_dir.rglob("record.json")) == ["fusion=none", "fusion=sum"]
    assert not list(out_dir.rglob("*.tmp"))
