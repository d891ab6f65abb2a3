"""scripts/gpu-check.sh on a machine without a GPU: says so and exits 0, touching nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_without_a_gpu_says_so_and_exits_0(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    # An nvidia-smi that finds no device, as on a machine with the driver tools but no GPU.
    smi = fake_bin / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'No devices were found' >&2\nexit 6\n")
    smi.chmod(0o755)
    work = tmp_path / "work"
    env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu-check.sh"), str(work)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "gpu-check: no GPU is present (nvidia-smi finds none); nothing to check"
    assert not work.exists()
