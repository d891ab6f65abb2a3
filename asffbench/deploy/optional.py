"""The optional deploy dependencies, imported on first use with a one-line error when missing."""

from __future__ import annotations

from types import ModuleType

from asffbench.extras import require_extra

EXTRA = "deploy"


def require(module: str, option: str) -> ModuleType:
    """Import `module` (onnx, onnxruntime, thop) for `option`; UserError saying what to install."""
    return require_extra(module, option, EXTRA)
