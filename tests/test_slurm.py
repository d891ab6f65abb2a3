"""The smoke sweep, cut down to two fusions, through `submitit_slurm` on a real SLURM cluster.

Start a single-node cluster on this machine first: `scripts/slurm-local.sh start` (as root).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from asffbench.record.storage import read_record
from asffbench.runs.sweep_spec import load_sweep


def slurm_unavailable() -> str | None:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "sinfo/sbatch not found: start a cluster with scripts/slurm-local.sh start"
    probe = subprocess.run(["sinfo", "-h", "-o", "%a %t"], capture_output=True, text=True, timeout=30)
    states = probe.stdout.split()
    if probe.returncode != 0 or "up" not in states:
        return f"no SLURM controller answers sinfo ({probe.stderr.strip() or 'no partition up'})"
    if not any(s.startswith(("idle", "mix", "alloc", "comp")) for s in states):
        return f"no usable SLURM node (sinfo: {probe.stdout.strip()})"
    return None


pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def test_smoke_sweep_through_submitit_slurm(cli, tmp_path):
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    smoke = load_sweep("smoke")
    fusions = smoke.axes["fusion"][:2]
    sweep = tmp_path / "smoke2.yaml"
    # Cut down: the two jobs share this machine's 2 cores with each other and with pytest.
    quick = {"train.epochs": 1, "train.max_iters_per_epoch": 3, "bench.warmup": 1,
             "bench.iters": 2, "bench.repeats": 1}
    sweep.write_text(yaml.safe_dump({"axes": {"fusion": fusions}, "overrides": {**smoke.overrides, **quick}}))
    out_dir = tmp_path / "sweep"
    code, out, err = cli(
        "sweep", str(sweep), f"hydra.sweep.dir={out_dir}", "--launcher", "submitit_slurm",
        "hydra.launcher.timeout_min=30", "--no-live",
    )
    assert code == 0, err
    assert f"{len(fusions)} runs: completed {len(fusions)}, skipped 0, failed 0" in out
    for fusion in fusions:
        record = read_record(out_dir / f"fusion={fusion}" / "record.json").to_dict()
        assert record is not None and record["status"] == "completed", record
        assert record["axes"] == {"fusion": fusion}
        assert record["attempt"]["id"].startswith("slurm-")  # it really ran as a SLURM job
        assert record["metrics"]["AP"] >= 0.0 and record["bench"]["fps"] > 0
    assert len(list(out_dir.rglob("record.json"))) == len(fusions)
    assert list((out_dir / ".submitit").rglob("*_submission.sh"))  # submitted with sbatch


def epoch_end_times(run_dir) -> dict[int, float]:
    from asffbench.record.layout import TRAIN_LOG_NAME, train_log_entries

    log = run_dir / TRAIN_LOG_NAME
    entries = train_log_entries(log) if log.is_file() else []
    return {entry["epoch"]: entry["time"] for entry in entries if entry.get("event") == "epoch_end"}


def test_preempted_job_is_requeued_and_resumes_from_its_checkpoint(tmp_path):
    """USR2 to a running job is what SLURM sends before preemption: submitit checkpoints the
    launcher call and requeues the job; the requeued job resumes training from last.pt."""
    import os
    import signal
    import sys
    import time

    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    from tests.runs.conftest import TINY_TRAIN

    sweep = tmp_path / "preempt.yaml"
    # Epochs of all 6 iterations the data has: long enough that USR2, sent once epoch 0 is logged,
    # lands during training rather than after it.
    epochs = {"train.epochs": 3, "train.max_iters_per_epoch": 6}
    sweep.write_text(yaml.safe_dump({"axes": {"fusion": ["asff"]}, "overrides": {**TINY_TRAIN, **epochs}}))
    out_dir = tmp_path / "sweep"
    run_dir = out_dir / "fusion=asff"
    proc = subprocess.Popen(
        [sys.executable, "-m", "asffbench.cli.app", "sweep", str(sweep), f"hydra.sweep.dir={out_dir}",
         "--launcher", "submitit_slurm", "--no-live"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not (epoch_end_times(run_dir) and (run_dir / "checkpoints" / "last.pt").is_file()):
            assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint before the deadline"
            time.sleep(0.2)
        job_id = sorted((out_dir / ".submitit").glob("*/*_submission.sh"))[0].parent.name
        subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
        signalled_at = time.time()
        # SLURM holds a requeued job for two minutes (Reason=BeginTime); release it now.
        while True:
            job = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
            if "Restarts=1" in job and "JobState=RUNNING" in job or proc.poll() is not None:
                break
            if "Restarts=1" in job and "Reason=BeginTime" in job:
                subprocess.run(["scontrol", "update", f"jobid={job_id}", "StartTime=now"], check=False)
            assert time.monotonic() < deadline, "the job was not requeued and restarted"
            time.sleep(1)
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
            for folder in (out_dir / ".submitit").glob("*/*_submission.sh"):
                subprocess.run(["scancel", folder.parent.name], check=False)  # no orphan job
    assert proc.returncode == 0, out
    assert "1 runs: completed 1, skipped 0, failed 0" in out
    record = read_record(run_dir / "record.json").to_dict()
    assert record["status"] == "completed"
    assert record["attempt"]["action"] == "resume" and record["attempt"]["id"].endswith("-1")
    ends = epoch_end_times(run_dir)
    assert sorted(ends) == [0, 1, 2] and ends[0] < signalled_at  # epoch 0 was not redone
    assert len(list(out_dir.rglob("record.json"))) == 1
