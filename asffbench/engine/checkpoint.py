"""Checkpoints: written atomically, loaded with `weights_only=True`, RNG states included.

A checkpoint is a plain dict of tensors, numbers, strings and containers, so the safe
(`weights_only`) unpickler reads it; numpy's RNG state is stored as a tensor for that reason.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from asffbench.atomic import write_path_atomic
from asffbench.errors import UserError

CHECKPOINT_DIR = "checkpoints"
LAST = "last.pt"


def last_checkpoint(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / LAST


def run_dir_of(checkpoint: Path) -> Optional[Path]:
    """The run directory a checkpoint belongs to (`<run>/checkpoints/x.pt`), else None."""
    folder = Path(checkpoint).parent
    return folder.parent if folder.name == CHECKPOINT_DIR else None


def save_checkpoint(state: dict, path: Path) -> Path:
    """Write `state` to `path` atomically (temp file, fsync, rename): a crash at any moment
    leaves either the previous checkpoint or the new one, never a torn file.

    torch.save gets a file name, not a Python file object: with a file object its C++ writer calls
    back into Python, where a signal handler (SLURM's preemption USR2, through submitit) can raise
    mid-write; torch then reports "unexpected pos" and the requeue turned into a failed run.
    """
    return write_path_atomic(Path(path), lambda tmp: torch.save(state, str(tmp)))


def load_checkpoint(path: Path, map_location: Any = "cpu") -> dict:
    """Load a checkpoint safely; UserError naming the file when it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file to the user
        raise UserError(f"{path}: not a readable checkpoint ({type(err).__name__})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: not an asffbench checkpoint (expected a dict)")
    return state


def model_state_from(state: dict, path: Path, prefer_ema: bool = True) -> dict:
    """The weights to evaluate: the EMA weights when the checkpoint has them, else the model's."""
    if prefer_ema and state.get("ema") is not None:
        return ema_module_state(state["ema"])
    if "model" in state:
        return state["model"]
    if all(isinstance(v, torch.Tensor) for v in state.values()):
        return state  # a bare state dict
    raise UserError(f"{path}: checkpoint has no 'model' weights")


def ema_module_state(ema_state: dict) -> dict:
    """The wrapped module's weights out of an `AveragedModel` state dict."""
    prefix = "module."
    return {k[len(prefix):]: v for k, v in ema_state.items() if k.startswith(prefix)}


def load_model_weights(model: nn.Module, state_dict: dict, path: Path) -> None:
    """Load weights strictly; a mismatch is the user's (wrong config for this checkpoint)."""
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise UserError(f"{path}: weights do not fit the configured model ({detail[:200]})") from None


def rng_states() -> dict:
    """Every random generator a training step draws from (python, numpy, torch CPU and CUDA)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def restore_rng_states(state: dict) -> None:
    random.setstate(to_tuple(state["python"]))
    npst = state["numpy"]
    keys = npst["keys"].numpy().astype(np.uint32)
    np.random.set_state((npst["kind"], keys, npst["pos"], npst["has_gauss"], npst["gauss"]))
    torch.set_rng_state(state["torch"].cpu())
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


def to_tuple(value: Any) -> Any:
    """random.setstate wants tuples where the round trip may have produced lists."""
    if isinstance(value, (list, tuple)):
        return tuple(to_tuple(v) for v in value)
    return value


def optional_state(obj: Optional[Any]) -> Optional[dict]:
    return obj.state_dict() if obj is not None else None
