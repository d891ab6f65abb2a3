"""The trackers' settings (built from the config's `logger` section by `asffbench.settings.tracker_settings`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# The pip extra that holds mlflow and wandb.
TRACK_EXTRA = "track"


@dataclass(frozen=True)
class MlflowOptions:
    uri: Optional[str] = None  # None: the file store <run dir's parent>/mlruns
    experiment: Optional[str] = None  # None: the run's group (its sweep, or `asffbench`)


@dataclass(frozen=True)
class WandbOptions:
    mode: str = "offline"  # offline | online | disabled
    project: str = "asffbench"
    entity: Optional[str] = None


@dataclass(frozen=True)
class TrackerSettings:
    """Which trackers a run feeds (`logger=[...]`) and how; None / False: not that one."""

    tensorboard: bool = False
    mlflow: Optional[MlflowOptions] = None
    wandb: Optional[WandbOptions] = None

    @property
    def names(self) -> tuple[str, ...]:
        chosen = (("tensorboard", self.tensorboard), ("mlflow", self.mlflow is not None),
                  ("wandb", self.wandb is not None))
        return tuple(name for name, on in chosen if on)


NO_TRACKERS = TrackerSettings()
