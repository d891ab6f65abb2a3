"""asffbench's optional extras (pyproject.toml's `[project.optional-dependencies]`), imported on
first use: a missing one is one line saying which package and which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from asffbench.errors import UserError


def install_hint(extra: str) -> str:
    return f"pip install 'asffbench[{extra}]'"


def require_extra(module: str, option: str, extra: str) -> ModuleType:
    """Import `module` for `option` (the setting that needs it); UserError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{option}: needs the '{module}' package; install it with {install_hint(extra)}") from None
