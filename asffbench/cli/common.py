"""Pieces shared by the subcommands: the overrides argument and output helpers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from asffbench.errors import UserError

OVERRIDES_HELP = (
    "Hydra overrides, e.g. fusion=asff fusion.compress_c=8 model=tiny img_size=416 "
    "tricks.mixup=false. `asffbench config` prints the resolved config."
)

OverridesArg = typer.Argument(None, help=OVERRIDES_HELP, show_default=False)
RunAndOverridesArg = typer.Argument(
    None, show_default=False, metavar="RUN_DIR|OVERRIDES",
    help="A run directory (as a sweep names it: runs/smoke/fusion=asff) and Hydra overrides "
    "(key=value, e.g. eval.score_thresh=0.05 device=cpu; data=coco). `asffbench config` prints the resolved config.",
)


def overrides_list(overrides: Optional[list[str]]) -> list[str]:
    return list(overrides or [])


def run_and_overrides(items: Optional[list[str]]) -> list[str]:
    """The overrides, a run directory among the items given as `run_dir=DIR`: an item without
    `=` names a run (it must exist), so does one with `=` that is an existing folder (a sweep's
    `fusion=asff`). compose_config quotes the path for Hydra."""
    runs, overrides = [], []
    for item in items or []:
        if "=" not in item and not item.startswith("~") and not Path(item).is_dir():
            raise UserError(f"{item}: no such run directory (an override is key=value)")
        (runs if Path(item).is_dir() else overrides).append(item)
    if len(runs) > 1:
        raise UserError(f"{runs[1]}: one run directory at a time ({runs[0]} is the first)")
    return [f"run_dir={run}" for run in runs] + overrides


def print_json(obj: Any) -> None:
    """One JSON object on stdout (machine-readable, nothing else on that stream)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()
