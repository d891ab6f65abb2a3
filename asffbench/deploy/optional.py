"""The optional deploy dependencies, imported on first use with a one-line error when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from asffbench.errors import UserError

INSTALL_HINT = "pip install 'asffbench[deploy]'"


def require(module: str, option: str) -> ModuleType:
    """Import `module` (onnx, onnxruntime, thop) for `option`; UserError saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{option}: needs the '{module}' package; install it with {INSTALL_HINT}") from None
