"""Run-dir ownership locks (runs/lock.py) between real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asffbench.runs.lock import HOLDER_NAME, HOST, STALE_AFTER, RunLock, hold_run, read_holder

def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_holder(run_dir: Path, **fields) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    holder = {"host": HOST, "pid": os.getpid(), "attempt": "x", "since": "2026-01-01T00:00:00+00:00",
              "heartbeat": time.time(), "token": "old-token", **fields}
    (run_dir / HOLDER_NAME).write_text(json.dumps(holder))


@pytest.mark.parametrize("mode", ["flock", "file"])
def test_a_live_holder_keeps_the_run_and_a_killed_one_leaves_it_free(tmp_path, holder_process, mode):
    run_dir = tmp_path / "run"
    proc = holder_process(run_dir, mode)
    lock = RunLock(run_dir, use_flock=mode == "flock")
    other = lock.acquire()
    assert other is not None and other.pid == proc.pid and other.host == HOST
    assert other.attempt == "holder-attempt" and other.is_live()

    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # kill -9 leaves lock.json behind, naming a dead PID: stale, taken over.
    assert read_holder(run_dir).pid == proc.pid and not read_holder(run_dir).is_live()
    assert lock.acquire() is None
    assert read_holder(run_dir).pid == os.getpid() and read_holder(run_dir).token == lock.me.token
    lock.release()
    assert not (run_dir / HOLDER_NAME).exists()


@pytest.mark.parametrize("mode", ["flock", "file"])
def test_stale_holder_files_are_taken_over_and_fresh_ones_of_other_hosts_are_not(tmp_path, mode):
    use_flock = mode == "flock"
    run_dir = tmp_path / "run"
    write_holder(run_dir, pid=dead_pid())
    lock = RunLock(run_dir, use_flock=use_flock)
    assert lock.acquire() is None
    lock.release()

    write_holder(run_dir, host="elsewhere.example", pid=1, heartbeat=time.time() - 2 * STALE_AFTER)
    assert lock.acquire() is None  # another host, heartbeat too old
    lock.release()

    write_holder(run_dir, host="elsewhere.example", pid=1)
    other = lock.acquire()  # another host, fresh heartbeat: held even where flock is per host
    assert other is not None and other.host == "elsewhere.example"
    assert json.loads((run_dir / HOLDER_NAME).read_text())["token"] == "old-token"


@pytest.mark.parametrize("mode", ["flock", "file"])
def test_a_requeued_job_takes_over_from_its_earlier_attempt_only(tmp_path, mode):
    run_dir = tmp_path / "run"
    # SLURM requeued job 77 onto another node: its restart 0 there looks fresh for a while.
    write_holder(run_dir, host="elsewhere.example", pid=1, attempt="slurm-77-0")
    assert RunLock(run_dir, attempt="slurm-78-0", use_flock=mode == "flock").acquire() is not None
    assert RunLock(run_dir, attempt="local-5-abc", use_flock=mode == "flock").acquire() is not None
    lock = RunLock(run_dir, attempt="slurm-77-1", use_flock=mode == "flock")
    assert lock.acquire() is None and read_holder(run_dir).attempt == "slurm-77-1"
    lock.release()


def test_holding_is_reentrant_in_one_process_and_exclusive_between_locks(tmp_path):
    run_dir = tmp_path / "run"
    with hold_run(run_dir) as me:
        with hold_run(run_dir):
            assert read_holder(run_dir).token == me.token
        assert read_holder(run_dir).token == me.token  # still held by the outer block
        assert RunLock(run_dir).acquire().token == me.token  # a second lock sees the holder
    assert read_holder(run_dir) is None
    assert RunLock(run_dir).acquire() is None


@pytest.mark.parametrize("command", ["run", "train"])
def test_run_and_train_on_a_held_run_dir_stop_with_one_line(cli, one_line_error, tmp_path, holder_process, command):
    from tests.runs.conftest import TINY_TRAIN, as_overrides

    run_dir = tmp_path / "run"
    proc = holder_process(run_dir)
    code, out, err = cli(command, *as_overrides(TINY_TRAIN), f"run_dir={run_dir}")
    one_line_error(code, err, str(run_dir), f"held by {HOST} pid {proc.pid}")
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock", HOLDER_NAME]  # nothing written


def test_sweep_status_shows_who_holds_each_run(cli, tmp_path, holder_process):
    sweep_dir = tmp_path / "sweep"
    proc = holder_process(sweep_dir / "fusion=asff")
    write_holder(sweep_dir / "fusion=none", pid=dead_pid())
    (sweep_dir / "fusion=none" / "record.json").write_text(json.dumps({"status": "running"}))
    code, out, err = cli("sweep", "--status", str(sweep_dir))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{sweep_dir}: 2 runs, 1 held"
    assert "fusion=asff" in lines[1] and "no record" in lines[1]
    assert f"held by {HOST} pid {proc.pid} since " in lines[1]
    assert "fusion=none" in lines[2] and "running" in lines[2] and "is gone" in lines[2]
