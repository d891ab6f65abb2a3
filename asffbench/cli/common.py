"""Pieces shared by the subcommands: the overrides argument and output helpers."""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer

OVERRIDES_HELP = (
    "Hydra overrides, e.g. fusion=asff fusion.compress_c=8 model=tiny img_size=416 "
    "tricks.mixup=false. `asffbench config` prints the resolved config."
)

OverridesArg = typer.Argument(None, help=OVERRIDES_HELP, show_default=False)


def overrides_list(overrides: Optional[list[str]]) -> list[str]:
    return list(overrides or [])


def print_json(obj: Any) -> None:
    """One JSON object on stdout (machine-readable, nothing else on that stream)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()
