"""Distributed data parallel set-up from the launcher's environment (torchrun or SLURM tasks).

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT. Under `srun` each
task has SLURM_PROCID / SLURM_STEP_NUM_TASKS (or SLURM_NTASKS) / SLURM_LOCALID; the rendezvous
address is then derived from the first host of SLURM_JOB_NODELIST and a port from the job id.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Iterator, Mapping, Optional, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from asffbench.errors import UserError


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    master_addr: Optional[str] = None
    master_port: Optional[int] = None
    launcher: str = "none"  # none | torchrun | slurm

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def dist_env_from(environ: Mapping[str, str]) -> DistEnv:
    """Rank, world size and rendezvous of this process, as the launcher described them."""
    try:
        if "RANK" in environ and "WORLD_SIZE" in environ:
            return DistEnv(
                rank=int(environ["RANK"]),
                world_size=int(environ["WORLD_SIZE"]),
                local_rank=int(environ.get("LOCAL_RANK", 0)),
                master_addr=environ.get("MASTER_ADDR"),
                master_port=int(environ["MASTER_PORT"]) if environ.get("MASTER_PORT") else None,
                launcher="torchrun",
            )
        # SLURM_STEP_NUM_TASKS is set for `srun` steps only: a plain `python` in an sbatch script
        # with --ntasks=4 is one process, not rank 0 of four.
        tasks = environ.get("SLURM_STEP_NUM_TASKS")
        if "SLURM_PROCID" in environ and tasks and int(tasks) > 1:
            job_id = int(environ.get("SLURM_JOB_ID", "0") or 0)
            port = environ.get("MASTER_PORT")
            return DistEnv(
                rank=int(environ["SLURM_PROCID"]),
                world_size=int(tasks),
                local_rank=int(environ.get("SLURM_LOCALID", 0)),
                master_addr=environ.get("MASTER_ADDR") or first_host(environ.get("SLURM_STEP_NODELIST") or environ.get("SLURM_JOB_NODELIST", "")),
                master_port=int(port) if port else 15000 + job_id % 20000,
                launcher="slurm",
            )
    except ValueError as err:
        raise UserError(f"distributed launch: malformed rank/world-size environment variable ({err})") from None
    return DistEnv()


def process_rank() -> int:
    """This process's rank as the launcher describes it (0 when not distributed); known before
    the process group is joined, so records and evaluation agree on who is rank 0."""
    return dist_env_from(os.environ).rank


def process_world_size() -> int:
    """How many processes (one device each) the launch runs, known before joining the group."""
    return dist_env_from(os.environ).world_size


def first_host(nodelist: str) -> str:
    """First host of a SLURM node list: 'gpu[003-004,010],cpu1' -> 'gpu003'."""
    nodelist = nodelist.strip()
    if not nodelist:
        return "127.0.0.1"
    match = re.match(r"([^\[,]+)(?:\[([^\]]+)\])?", nodelist)
    if match is None:
        return nodelist
    prefix, ranges = match.group(1), match.group(2)
    if not ranges:
        return prefix
    return prefix + ranges.split(",")[0].split("-")[0]


def init_distributed(device: torch.device, environ: Optional[Mapping[str, str]] = None) -> DistEnv:
    """Join the process group when launched as several processes (nccl on CUDA, gloo on CPU)."""
    env = dist_env_from(os.environ if environ is None else environ)
    if not env.enabled or (dist.is_available() and dist.is_initialized()):
        return env
    if not dist.is_available():
        raise UserError("distributed launch: this torch build has no torch.distributed")
    # init_method env:// reads these; SLURM launches do not set them.
    os.environ.setdefault("MASTER_ADDR", env.master_addr or "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(env.master_port or 29500))
    if device.type == "cuda":
        torch.cuda.set_device(env.local_rank)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(
        backend=backend, rank=env.rank, world_size=env.world_size, timeout=timedelta(minutes=30)
    )
    return env


def process_device(device: torch.device, env: DistEnv) -> torch.device:
    """One GPU per process: the local rank picks it."""
    if device.type == "cuda" and env.enabled:
        return torch.device("cuda", env.local_rank)
    return device


def wrap_ddp(model: nn.Module, device: torch.device, env: DistEnv, sync_bn: bool) -> nn.Module:
    """DDP-wrap (and convert BN to sync-BN when asked) for a multi-process run; else unchanged."""
    if not env.enabled:
        return model
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [device.index] if device.type == "cuda" else None
    # Every parameter gets a gradient every step: the trainer adds 0 x every output to the loss
    # (trainer.zero_touching), so DDP need not search the graph for unused ones.
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=False)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor across processes (the tensor itself when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        value /= dist.get_world_size()
    return value


T = TypeVar("T")


def broadcast_from_main(make: Callable[[], T]) -> T:
    """`make()` on rank 0, its result on every rank (just `make()` when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return make()
    chosen = [make() if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(chosen, src=0)
    return chosen[0]


@contextmanager
def process_group(device: torch.device) -> Iterator[DistEnv]:
    """Join the launch's process group (if any) for the block, and leave it afterwards."""
    env = init_distributed(device)
    try:
        yield env
    finally:
        cleanup()


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
