"""DESIGN.md's fast-start promise: `--help` and config errors never import torch or torchvision."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision")

# Runs the CLI in a fresh interpreter; prints the exit code, stderr's lines and which heavy modules
# got imported.
PROBE = """
import contextlib, io, json, sys
from asffbench.cli.app import main
err = io.StringIO()
with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    try:
        main(sys.argv[1:])
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
heavy = [name for name in %r if name in sys.modules]
print(json.dumps({"code": code, "err": err.getvalue().splitlines(), "heavy": heavy}))
""" % (HEAVY,)


def probe(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("args", [("--help",), ("train", "--help"), ("sweep", "--help")])
def test_help_imports_no_torch(args):
    result = probe(*args)
    assert result["code"] == 0 and result["heavy"] == []


def test_sweep_status_imports_no_torch(tmp_path):
    # `sweep --status` only reads records and locks (record/storage.py, runs/lock.py).
    result = probe("sweep", "--status", str(tmp_path))
    assert result["code"] == 0 and result["heavy"] == [], result


# One command per kind of config error; a command whose config error loads torch belongs here too.
@pytest.mark.parametrize("args, message", [
    (("config", "fusion=asf"), "fusion=asf: unknown option for 'fusion'"),
    (("train", "img_size=100"), "img_size=100: must be a positive multiple of 32"),
    (("bench", "img_size=64", "model.width=0"), "model.width=0.0: must be positive"),
    (("eval", "model.width=0"), "model.width=0.0: must be positive"),
    (("run", "fusion.compres_c=8"), "fusion.compres_c: unknown config key"),
    (("data", "check", "device=tpu"), "device=tpu: invalid value"),
])
def test_a_config_error_imports_no_torch(args, message):
    result = probe(*args)
    assert result["code"] == 2 and len(result["err"]) == 1 and message in result["err"][0], result
    assert result["heavy"] == []
