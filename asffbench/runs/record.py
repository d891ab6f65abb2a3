"""The run record (`record.json`): experiment hash, environment facts and atomic writing.

The record format is DESIGN.md's schema_version 1. Records are written by rank 0 only and always
atomically, so a reader (or a sweep deciding what to skip) never sees a torn file.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional

from omegaconf import DictConfig

from asffbench.atomic import write_json_atomic
from asffbench.config.compose import to_plain
from asffbench.environment import hardware_info, software_versions
from asffbench.record_schema import RECORD_NAME, SCHEMA_VERSION, STATUSES  # noqa: F401 - re-exported

# What defines an experiment: every config section and key below, minus the exclusions. A key
# added to the schema later is part of the hash unless it is excluded here, on purpose.
HASHED_SECTIONS = ("fusion", "model", "tricks", "recipe", "data", "train", "eval", "bench", "img_size", "seed")
# Where things are written, how a run is launched or resumed, how often it logs or evaluates and
# how many loader workers it uses do not change what is measured.
EXCLUDED_KEYS = (
    "data.workers",
    "data.cache_dir",
    "train.resume",
    "train.log_every",
    "train.eval_every",  # evaluations during training leave the weights (and random state) alone
)
# The device is hashed as its resolved kind ("cpu" or "cuda"), not as written ("auto"): the kind
# changes the recipe (AMP and fp16 benchmarking only exist on CUDA) and makes FPS a different
# measurement, so a CPU run must never stand in for a GPU run when a sweep decides what to skip.
# The GPU model does not change the recipe; it is recorded under `hardware`, not hashed.


def experiment_hash(cfg: DictConfig | Mapping[str, Any], device_kind: Optional[str] = None) -> str:
    """sha256 (16 hex chars) of the experiment-defining part of the config.

    `device_kind` defaults to the config's device with `auto` resolved on this machine.
    """
    plain = to_plain(cfg) if isinstance(cfg, DictConfig) else json.loads(json.dumps(cfg, default=str))
    subset = {key: plain.get(key) for key in HASHED_SECTIONS}
    for dotted in EXCLUDED_KEYS:
        section, _, key = dotted.partition(".")
        if isinstance(subset.get(section), dict):
            subset[section].pop(key, None)
    if device_kind is None:
        from asffbench.device import device_kind_of

        device_kind = device_kind_of(plain.get("device", "auto"))
    subset["device"] = device_kind
    text = json.dumps(subset, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def process_rank() -> int:
    """This process's rank as the launcher describes it (0 when not distributed)."""
    from asffbench.engine.distributed import process_rank as launch_rank

    return launch_rank()


def write_record(path: Path, record: Mapping[str, Any]) -> bool:
    """Write the record atomically on rank 0 (temp file in the same folder, fsync, rename, fsync
    the folder); other ranks write nothing. Returns whether this process wrote it."""
    if process_rank() != 0:
        return False
    write_json_atomic(Path(path), record)
    return True


def read_record(path: Path) -> Optional[dict]:
    """The record at `path`, or None when it is absent or unreadable (never raises)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def new_record(cfg: DictConfig, exp_hash: str, axes: Mapping[str, Any]) -> dict:
    """A `running` record for a run that starts now."""
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "running",
        "experiment_hash": exp_hash,
        "sweep": cfg.sweep.name,
        "axes": dict(axes),
        "config": to_plain(cfg),
        "metrics": None,
        "bench": None,
        "train_seconds": None,
        "hardware": hardware_info(),
        "versions": software_versions(),
        "started": now_iso(),
        "finished": None,
        "error": None,
    }
