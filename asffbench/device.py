"""Choosing the torch device from `device=auto|cpu|cuda`."""

from __future__ import annotations

import torch

from asffbench.errors import UserError


def resolve_device(choice: str) -> torch.device:
    """`auto` picks CUDA when available; asking for CUDA without one is a user error."""
    choice = str(getattr(choice, "value", choice))
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise UserError("device=cuda: no CUDA device is available here (use device=cpu or auto)")
    return torch.device(choice)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_name()


def cpu_name() -> str:
    """The CPU model as the OS reports it (platform.processor() is often empty on Linux)."""
    import platform

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
