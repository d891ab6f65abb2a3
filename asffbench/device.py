"""Choosing the torch device from `device=auto|cpu|cuda`."""

from __future__ import annotations

import os
import platform

import torch

from asffbench.config.schema import choice_str
from asffbench.errors import UserError


def device_kind_of(choice: str) -> str:
    """`cpu` or `cuda` as `device=` means it on this machine: `auto` is cuda when a GPU is
    visible. Never fails: a sweep planned on a login node hashes its GPU runs as cuda."""
    choice = choice_str(choice)
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice.split(":")[0]


def resolve_device(choice: str) -> torch.device:
    """`auto` picks CUDA when available; asking for CUDA without one is a user error."""
    choice = choice_str(choice)
    kind = device_kind_of(choice)
    if kind == "cuda" and not torch.cuda.is_available():
        raise UserError("device=cuda: no CUDA device is available here (use device=cpu or auto)")
    return torch.device(kind if choice == "auto" else choice)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_name()


def cpu_name() -> str:
    """The CPU model as the OS reports it (platform.processor() is often empty on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels so wall-clock timings measure the work, not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def configure_cpu_threads() -> int:
    """Give torch as many intra-op threads as CPUs this process was allotted, and return it.

    A SLURM task gets SLURM_CPUS_PER_TASK CPUs, but torch sizes its pool by the node's cores;
    several jobs on one node then run more spinning OpenMP threads than cores, which slowed CPU
    training here by over 10x. Outside SLURM the CPU affinity mask is the allotment.
    """
    allotted = os.environ.get("SLURM_CPUS_PER_TASK")
    if allotted and allotted.isdigit() and int(allotted) > 0:
        threads = int(allotted)
    elif hasattr(os, "sched_getaffinity"):
        threads = len(os.sched_getaffinity(0))
    else:
        threads = torch.get_num_threads()
    threads = max(1, min(threads, torch.get_num_threads()))
    torch.set_num_threads(threads)
    return threads
