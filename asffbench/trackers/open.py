"""Start the trackers a run's settings name (`logger=[...]`), in the order of `STARTERS`.

A tracker that cannot start (its package missing, its server unreachable, a bad URI) is one
warning line; the run goes on with the others.
"""

from __future__ import annotations

from typing import Callable, Optional

from asffbench.trackers.base import Tracker, TrackerSet, warn
from asffbench.trackers.mlflow_tracker import start_mlflow
from asffbench.trackers.options import TrackerSettings
from asffbench.trackers.run_info import TrackedRun
from asffbench.trackers.tensorboard import start_tensorboard
from asffbench.trackers.wandb_tracker import start_wandb

# name -> what starts it from the settings (None: not started, without a warning).
Starter = Callable[[TrackerSettings, TrackedRun], Optional[Tracker]]
STARTERS: dict[str, Starter] = {
    "tensorboard": lambda settings, run: start_tensorboard(run),
    "mlflow": lambda settings, run: start_mlflow(settings.mlflow, run),
    "wandb": lambda settings, run: start_wandb(settings.wandb, run),
}


def open_trackers(settings: TrackerSettings, run: TrackedRun, enabled: bool = True) -> TrackerSet:
    """The started trackers of `run` (none when not `enabled`: the ranks > 0 of a DDP job)."""
    started = []
    for name in settings.names if enabled else ():
        try:
            tracker = STARTERS[name](settings, run)
        except Exception as err:  # noqa: BLE001 - a tracker that cannot start never stops the run
            warn(name, "not started", err)
            continue
        if tracker is not None:
            started.append(tracker)
    return TrackerSet(started)
