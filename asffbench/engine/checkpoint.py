"""Checkpoints: written atomically, read by the one reader (`weights.read`), RNG states included.

A checkpoint is a plain dict of tensors, numbers, strings and containers, so the safe
(`weights_only`) unpickler reads it; numpy's RNG state is stored as a tensor for that reason.
Its place in a run (`last_checkpoint`, `run_dir_of`) is `weights.resolve`'s, which is torch-free.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from asffbench.atomic import write_path_atomic
from asffbench.errors import UserError
from asffbench.weights.read import read_torch_file

log = logging.getLogger(__name__)


def save_checkpoint(state: dict, path: Path) -> Path:
    """Write `state` to `path` atomically (temp file, fsync, rename): a crash at any moment
    leaves either the previous checkpoint or the new one, never a torn file.

    torch.save gets a file name, not a Python file object: with a file object its C++ writer calls
    back into Python, where a signal handler (SLURM's preemption USR2, through submitit) can raise
    mid-write; torch then reports "unexpected pos" and the requeue turned into a failed run.
    """
    return write_path_atomic(Path(path), lambda tmp: torch.save(state, str(tmp)))


def load_checkpoint(path: Path, map_location: Any = "cpu") -> dict:
    """A training checkpoint (a dict); UserError naming the file when it is missing or unreadable."""
    path = Path(path)
    state = read_torch_file(path, str(path), map_location)
    if not isinstance(state, dict):
        raise UserError(f"{path}: not an asffbench checkpoint (expected a dict)")
    return state


def resumable_state(path: Path, is_main: bool = True) -> Optional[dict]:
    """The checkpoint to resume from, or None when there is none or it cannot be read. An
    unreadable one (truncated by a crash mid-copy, a full disk) is not silently overwritten by the
    fresh start: one warning line names it and why, and rank 0 moves it aside for inspection."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return load_checkpoint(path)
    except UserError as err:
        aside = path.with_name(f"{path.name}.unreadable-{datetime.now():%Y%m%d-%H%M%S}")
        if is_main:
            path.replace(aside)
        log.warning("%s; not resumed from: kept as %s, training starts from scratch", err, aside.name)
        return None


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
    return contiguous_state(obj.state_dict()) if obj is not None else None


def contiguous_state(state: dict) -> dict:
    """A state dict with every tensor in the default (contiguous) memory format: a checkpoint of
    a channels-last model (`train.channels_last`) reads like any other, `.view` included."""
    return {key: value.contiguous() if isinstance(value, torch.Tensor) else value for key, value in state.items()}
