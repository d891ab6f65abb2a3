"""Training logs: `train_log.jsonl`, the run's experiment trackers, and the console.

Every line written to train_log.jsonl goes, as written, to the run's trackers (`TrackerSet`:
TensorBoard, MLflow, W&B as `logger=[...]` chose them; asffbench.trackers): they are fed by these
events and no other path. The trackers belong to the caller, who finishes and closes them.
The console shows a rich progress bar on a terminal and plain lines otherwise (CI, SLURM logs).
Everything goes to stderr: stdout stays free for the JSON that `--json` commands print.
Only rank 0 creates a logger that writes (`TrainLogger(..., enabled=False)` elsewhere).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from asffbench.atomic import write_text_atomic
from asffbench.record_schema import TRAIN_LOG_NAME, train_log_entries
from asffbench.trackers.base import TrackerSet

LOG_NAME = TRAIN_LOG_NAME


def format_parts(parts: dict[str, float]) -> str:
    return " ".join(f"{name} {value:.3f}" for name, value in parts.items())


def format_eta(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def truncate_log(path: Path, from_epoch: int) -> None:
    """Drop the lines of epochs >= from_epoch (a resumed run redoes them) atomically."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if int(json.loads(line).get("epoch", 0)) < from_epoch:
                kept.append(line)
        except (ValueError, AttributeError):
            continue  # a torn last line of a killed run
    write_text_atomic(path, "".join(line + "\n" for line in kept))


class TrainLogger:
    def __init__(
        self,
        run_dir: Path,
        *,
        epochs: int,
        iters_per_epoch: int,
        start_epoch: int = 0,
        enabled: bool = True,
        tty: Optional[bool] = None,
        trackers: Optional[TrackerSet] = None,
    ) -> None:
        self.enabled = enabled
        self.epochs = epochs
        self.iters_per_epoch = iters_per_epoch
        self.total_iters = epochs * iters_per_epoch
        self.start_iter = start_epoch * iters_per_epoch
        self.started = time.perf_counter()
        self.path = Path(run_dir) / LOG_NAME
        self.file = None
        self.trackers = trackers if enabled and trackers is not None else TrackerSet()
        self.progress = None
        self.task = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if start_epoch > 0:
            truncate_log(self.path, start_epoch)
        self.file = open(self.path, "a" if start_epoch > 0 else "w", encoding="utf-8")
        self.tty = sys.stderr.isatty() if tty is None else tty
        if self.tty:
            self.progress = rich_progress()
            self.progress.start()

    def eta(self, global_iter: int) -> float:
        done = global_iter + 1 - self.start_iter
        rate = (time.perf_counter() - self.started) / max(1, done)
        return rate * (self.total_iters - global_iter - 1)

    def step(self, *, epoch: int, global_iter: int, loss: float, parts: dict, lr: float, images_per_s: float) -> None:
        if not self.enabled:
            return
        record = {
            "epoch": epoch,
            "iter": global_iter,
            "loss": loss,
            "loss_parts": parts,
            "lr": lr,
            "images_per_s": images_per_s,
            "time": time.time(),
        }
        self.write(record)
        in_epoch = global_iter - epoch * self.iters_per_epoch + 1
        text = (
            f"loss {loss:.3f} ({format_parts(parts)}) lr {lr:.2e} {images_per_s:.1f} img/s "
            f"eta {format_eta(self.eta(global_iter))}"
        )
        if self.progress is not None:
            self.show_progress(epoch, in_epoch, text)
        else:
            sys.stderr.write(f"epoch {epoch + 1}/{self.epochs} iter {in_epoch}/{self.iters_per_epoch} {text}\n")
            sys.stderr.flush()

    def epoch_end(self, *, epoch: int, **fields: Any) -> None:
        if not self.enabled:
            return
        record = {"epoch": epoch, "event": "epoch_end", "time": time.time(), **fields}
        self.write(record)
        if self.progress is None:
            summary = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
            sys.stderr.write(f"epoch {epoch + 1}/{self.epochs} done: {summary}\n")
            sys.stderr.flush()

    def eval_result(self, *, epoch: int, metrics: dict) -> None:
        """The line of a `train.eval_every` evaluation: `{"epoch", "event": "eval", "metrics"}`."""
        if not self.enabled:
            return
        self.write({"epoch": epoch, "event": "eval", "time": time.time(), "metrics": metrics})
        if self.progress is None:
            sys.stderr.write(f"epoch {epoch + 1}/{self.epochs} eval: AP {metrics.get('AP')}\n")
            sys.stderr.flush()

    def show_progress(self, epoch: int, in_epoch: int, text: str) -> None:
        description = f"epoch {epoch + 1}/{self.epochs}"
        if self.task is None or self.progress.tasks[self.task].description != description:
            if self.task is not None:
                self.progress.remove_task(self.task)
            self.task = self.progress.add_task(description, total=self.iters_per_epoch, info="")
        self.progress.update(self.task, completed=in_epoch, info=text)

    def has_line(self, *, epoch: int, event: str) -> bool:
        """Whether the log already holds an `event` line of `epoch` (earlier attempts' lines too)."""
        if not self.enabled or not self.path.is_file():
            return False
        return any(e.get("event") == event and e.get("epoch") == epoch for e in train_log_entries(self.path))

    def write(self, record: dict) -> None:
        """The line into train_log.jsonl, then to every tracker (which never fails the run)."""
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        self.trackers.log_line(record)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        if self.file is not None:
            self.file.close()
            self.file = None


def rich_progress():
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=Console(stderr=True),
        transient=False,
    )

