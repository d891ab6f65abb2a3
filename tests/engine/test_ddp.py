"""Distributed training: the launch environment, and 2 CPU processes with gloo under torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from asffbench.engine.distributed import DistEnv, dist_env_from, first_host


def test_single_process_without_launcher() -> None:
    env = dist_env_from({})
    assert env == DistEnv() and not env.enabled and env.is_main


def test_torchrun_environment() -> None:
    env = dist_env_from({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "n1", "MASTER_PORT": "29400"})
    assert (env.rank, env.world_size, env.local_rank, env.master_addr, env.master_port) == (3, 4, 1, "n1", 29400)
    assert env.enabled and not env.is_main and env.launcher == "torchrun"


def test_slurm_tasks_derive_the_rendezvous() -> None:
    env = dist_env_from({
        "SLURM_PROCID": "5", "SLURM_STEP_NUM_TASKS": "8", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1",
        "SLURM_JOB_NODELIST": "gpu[007-010,012]", "SLURM_JOB_ID": "123456",
    })
    assert (env.rank, env.world_size, env.local_rank) == (5, 8, 1)
    assert env.master_addr == "gpu007" and env.master_port == 15000 + 123456 % 20000
    assert env.launcher == "slurm"


def test_sbatch_script_step_is_a_single_process() -> None:
    # The batch step of `sbatch --ntasks=4` runs one python: it must not wait for 3 peers.
    assert not dist_env_from({"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_JOB_NODELIST": "a1"}).enabled


def test_first_host_of_node_lists() -> None:
    assert first_host("node1") == "node1"
    assert first_host("node1,node2") == "node1"
    assert first_host("gpu-[3-5],cpu1") == "gpu-3"
    assert first_host("") == "127.0.0.1"


@pytest.mark.slow
def test_two_cpu_processes_train_and_evaluate(tmp_path, tmp_path_factory) -> None:
    run_dir = tmp_path / "ddp"
    cache = tmp_path_factory.getbasetemp() / "asffbench-cache"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ASFFBENCH_CACHE": str(cache)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "asffbench.cli.app", "train", "--eval", "--json",
        "model=tiny", "model.num_classes=6", "img_size=96", "device=cpu", "tricks.multiscale=false",
        "tricks.sync_bn=true", "data.workers=0", "data.synth.images=16", f"data.cache_dir={cache}",
        "train.batch_size=2", "train.epochs=1", "train.max_iters_per_epoch=2", "train.log_every=1",
        "eval.batch_size=4", f"run_dir={run_dir}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout)  # rank 0 alone prints
    assert outcome["world_size"] == 2 and outcome["epochs_done"] == 1
    assert set(outcome["metrics"]) >= {"AP", "AP50", "AR100", "per_class"}
    assert outcome["metrics"]["num_images"] == 4
    steps = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert [s["iter"] for s in steps if "iter" in s] == [0, 1]  # one writer, not two
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    assert not list((run_dir / "checkpoints").glob("*.tmp"))
