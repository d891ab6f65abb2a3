"""The experiment trackers of one run (`logger=[...]`), opened by the commands that train.

`run_experiment` and `asffbench train` open them around the whole run (rank 0 only), hand them
to `train` (whose train log feeds them, line by line), then give them the run's outcome and close
them. Who the run is for the trackers (`TrackedRun`) comes from the config here, from a record
in `report --mlflow`: the same mapping either way (asffbench/trackers/run_info.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

from omegaconf import DictConfig

from asffbench.config.compose import to_plain
from asffbench.record_types import RunRecord
from asffbench.settings import tracker_settings
from asffbench.trackers.base import TrackerSet
from asffbench.trackers.open import open_trackers
from asffbench.trackers.run_info import RunOutcome, TrackedRun, outcome_of_record, tracked_run


def run_identity(cfg: DictConfig, experiment_hash: str, axes: Optional[Mapping[str, Any]] = None) -> TrackedRun:
    return tracked_run(to_plain(cfg), Path(cfg.run_dir), experiment_hash=experiment_hash, axes=axes,
                       swept=cfg.sweep.name is not None, resume=bool(cfg.train.resume))


def run_trackers(cfg: DictConfig, experiment_hash: str, axes: Optional[Mapping[str, Any]] = None,
                 enabled: bool = True) -> TrackerSet:
    """The started trackers of the run in `cfg.run_dir` (none when not `enabled`: DDP ranks > 0)."""
    if not enabled:
        return TrackerSet()
    return open_trackers(tracker_settings(cfg), run_identity(cfg, experiment_hash, axes))


def record_outcome(record: RunRecord) -> RunOutcome:
    return outcome_of_record(record.to_dict())


def metrics_outcome(metrics: Optional[Mapping[str, Any]], extra: Mapping[str, Any]) -> RunOutcome:
    """`asffbench train`'s outcome (no record): its evaluation's metrics, when it ran one."""
    return outcome_of_record({"status": "completed", "metrics": metrics or {}, **extra})
