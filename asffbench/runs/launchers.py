"""The Hydra launchers a sweep runs on: `--launcher NAME` -> its preset in conf/hydra/launcher/.

The presets are named apart from the plugins' own configs so that a preset can extend them
through its defaults list. A leaf module: the CLI's help text reads it without loading Hydra.
"""

from __future__ import annotations

from asffbench.errors import UserError

LAUNCHER_PRESETS = {
    "basic": "sequential",
    "joblib": "parallel",
    "submitit_local": "local",
    "submitit_slurm": "slurm",
}


def check_launcher(name: str) -> str:
    """`name` when it is a known launcher; UserError naming the choices otherwise."""
    if name not in LAUNCHER_PRESETS:
        raise UserError(f"--launcher {name}: choose from {', '.join(LAUNCHER_PRESETS)}")
    return name
