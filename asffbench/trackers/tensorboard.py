"""TensorBoard event files in `<run_dir>/tensorboard` (`logger=[tensorboard]`, the default).

The tensorboard package is no dependency of asffbench: without it this tracker is skipped
silently, as asffbench always did (it is the default, so a warning would greet every run).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Optional

from asffbench.trackers.base import Tracker
from asffbench.trackers.events import line_metrics
from asffbench.trackers.run_info import RunOutcome, TrackedRun

log = logging.getLogger(__name__)
FOLDER = "tensorboard"


class TensorBoardTracker(Tracker):
    name = "tensorboard"

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.last_iter = 0

    def log_line(self, line: Mapping[str, Any]) -> None:
        metrics = line_metrics(line)
        if metrics is None:
            return
        if metrics.axis == "iter":
            self.last_iter = metrics.step
        for name, value in metrics.values.items():
            self.writer.add_scalar(name, value, metrics.step)
        self.writer.flush()

    def finish(self, outcome: RunOutcome) -> None:
        for name, value in outcome.metrics.items():
            self.writer.add_scalar(f"final/{name}", value, self.last_iter)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def start_tensorboard(run: TrackedRun) -> Optional[TensorBoardTracker]:
    """The tracker, or None when the tensorboard package is not installed."""
    try:  # tensorboard is optional (no dependency of asffbench): imported only when logging to it
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.debug("logger=tensorboard: the tensorboard package is not installed; no event files")
        return None
    return TensorBoardTracker(SummaryWriter(log_dir=str(Path(run.run_dir) / FOLDER)))
