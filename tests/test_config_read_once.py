"""`engine/`, `bench/`, `data/` and `trackers/` take settings objects, never the config: no `cfg` name, no
`DictConfig`, no omegaconf import (the config is read by `asffbench.settings`)."""

from __future__ import annotations

import ast
from pathlib import Path

import asffbench

PACKAGE = Path(asffbench.__file__).parent
BELOW_THE_CONFIG = ("engine", "bench", "data", "trackers")
CONFIG_NAMES = {"cfg", "DictConfig", "ListConfig", "OmegaConf", "open_dict", "data_cfg", "tcfg"}
# Modules still handed the config, each with why; the list only shrinks.
STILL_READ_THE_CONFIG: dict[str, str] = {}


def config_uses(path: Path) -> list[str]:
    """`line: name` for every config name, omegaconf import or `cfg` argument in the module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found += [f"{node.lineno}: import {m}" for m in modules if m.split(".")[0] in ("omegaconf", "hydra")]
        elif isinstance(node, ast.Name) and node.id in CONFIG_NAMES:
            found.append(f"{node.lineno}: {node.id}")
        elif isinstance(node, ast.arg) and node.arg in CONFIG_NAMES:
            found.append(f"{node.lineno}: argument {node.arg}")
    return found


def modules_below() -> list[Path]:
    return sorted(p for package in BELOW_THE_CONFIG for p in (PACKAGE / package).rglob("*.py"))


def test_no_module_below_the_config_layer_reads_the_config():
    offenders = {}
    for path in modules_below():
        name = path.relative_to(PACKAGE).as_posix()
        uses = config_uses(path)
        if uses and name not in STILL_READ_THE_CONFIG:
            offenders[name] = uses
    assert not offenders, f"read the config in asffbench/settings.py and pass settings down: {offenders}"


def test_the_exceptions_are_still_needed():
    for name in STILL_READ_THE_CONFIG:
        assert config_uses(PACKAGE / name), f"{name} no longer reads the config: drop it from the exceptions"


def test_the_scan_finds_a_config_argument(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from omegaconf import DictConfig\n\ndef f(cfg: DictConfig) -> int:\n    return cfg.seed\n")
    assert sorted(config_uses(module)) == sorted(["1: import omegaconf", "3: argument cfg", "3: DictConfig", "4: cfg"])
