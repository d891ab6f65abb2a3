"""Packaging: the configs, sweeps and paper reference ship inside a non-editable install."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def declared_packages() -> set[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return set(tomllib.load(f)["tool"]["setuptools"]["packages"])


def test_every_package_is_declared():
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "asffbench").rglob("__init__.py")
    }
    missing = found - declared_packages()
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


@pytest.mark.slow
def test_wheel_ships_configs_and_composes_outside_the_checkout(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("asffbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("asffbench/conf/config.yaml", "asffbench/conf/fusion/asff_star.yaml",
                     "asffbench/sweeps/smoke.yaml", "asffbench/reference/paper_reference.yaml"):
        assert expected in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import asffbench, sys; from asffbench.config.compose import compose_config;"
        "assert str(asffbench.__file__).startswith(sys.argv[1]), asffbench.__file__;"
        "print(compose_config(['fusion=asff_star', 'model=tiny']).fusion.compress_c)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(target)], cwd=tmp_path, env=env,
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "8"
