"""Software versions and hardware of this process: stated in every bench result and record."""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Optional

import torch
import torchvision

import asffbench
from asffbench.device import cpu_name


@functools.lru_cache(maxsize=None)
def git_commit(start: Optional[Path] = None) -> Optional[str]:
    """The commit of the asffbench checkout (None when installed from a wheel).

    Asked once per process: every record and bench result states it, and the code that runs is
    the code imported at start-up.
    """
    here = start or Path(asffbench.__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def software_versions() -> dict[str, Optional[str]]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda,
        "cudnn": str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else None,
        "asffbench": asffbench.__version__,
        "git_commit": git_commit(),
    }


def hardware_info() -> dict:
    gpu_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if gpu_count else None,
        "gpu_count": gpu_count,
        "host": socket.gethostname(),
    }
