"""Weights & Biases (`logger=[wandb]`, extra `track`): one W&B run per asffbench run.

The mapping is MLflow's (mlflow_tracker.py): project `logger.wandb.project`, group = the run's
group (its sweep, `asffbench` outside one), name = the run's name, config = the resolved config
plus an `asffbench` section (experiment hash, run name, sweep, axes), tags `<axis>=<value>` and
`hash=<experiment hash>`; the train log's lines as metrics (`train/*` against `iter`, `epoch/*`
and `eval/*` against `epoch`), the final metrics in the run's summary, record.json, config.yaml
and the figures copied into the run's files. `logger.wandb.mode=offline` (the default) writes
`<run_dir>/wandb/offline-run-*` and needs no network (`wandb sync` uploads it later). The run id
is kept in the run dir (ids.py): a resumed run passes it back with `resume="allow"`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType
from typing import Any, Mapping

from asffbench.extras import require_extra
from asffbench.trackers.base import Tracker
from asffbench.trackers.events import EPOCH, ITER, line_metrics
from asffbench.trackers.ids import store_id, stored_id
from asffbench.trackers.options import TRACK_EXTRA, WandbOptions
from asffbench.trackers.run_info import RunOutcome, TrackedRun, run_artifacts

NAME = "wandb"
TAG_LIMIT = 64  # W&B's longest tag
INIT_TIMEOUT_S = 60.0
LOGIN_TIMEOUT_S = 10.0
# Metric families and the step each is plotted against (events.py's names).
STEP_OF = {"train/*": ITER, "epoch/*": EPOCH, "eval/*": EPOCH}


def import_wandb() -> ModuleType:
    return require_extra("wandb", "logger=[wandb]", TRACK_EXTRA)


def run_tags(run: TrackedRun) -> list[str]:
    axes = [f"{k.removeprefix('axis.')}={v}" for k, v in run.tags.items() if k.startswith("axis.")]
    return [tag[:TAG_LIMIT] for tag in (*axes, f"hash={run.tags.get('experiment_hash', '')}")]


def run_config(run: TrackedRun) -> dict[str, Any]:
    identity = {k: v for k, v in run.tags.items() if not k.startswith("axis.")}
    axes = {k.removeprefix("axis."): v for k, v in run.tags.items() if k.startswith("axis.")}
    return {**run.config, "asffbench": {**identity, "axes": axes}}


class WandbTracker(Tracker):
    name = NAME

    def __init__(self, wandb_run: Any, run_dir: Path) -> None:
        self.run = wandb_run
        self.run_dir = run_dir
        self.finished = False
        for step in sorted(set(STEP_OF.values())):
            self.run.define_metric(step)
        for pattern, step in STEP_OF.items():
            self.run.define_metric(pattern, step_metric=step)

    def log_line(self, line: Mapping[str, Any]) -> None:
        metrics = line_metrics(line)
        if metrics is not None and metrics.values:
            self.run.log({**metrics.values, metrics.axis: metrics.step})

    def finish(self, outcome: RunOutcome) -> None:
        self.run.summary.update({**outcome.metrics, "status": outcome.status})
        for copy in copy_files(run_artifacts(self.run_dir), self.run_dir, Path(self.run.dir)):
            self.run.save(str(copy), base_path=self.run.dir, policy="now")  # already in place: no link
        self.finished = True
        self.run.finish(exit_code=1 if outcome.failed else 0)

    def close(self) -> None:
        if not self.finished:  # cut short: marked failed; a resumed attempt continues the same id
            self.run.finish(exit_code=1)


def copy_files(files: list[Path], run_dir: Path, wandb_files: Path) -> list[Path]:
    """Copies in the W&B run's files folder (a snapshot: `wandb.save` of a file elsewhere would
    link it, with a warning line per call)."""
    copies = []
    for path in files:
        target = wandb_files / path.relative_to(run_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copies.append(target)
    return copies


def start_wandb(options: WandbOptions, run: TrackedRun) -> WandbTracker:
    wandb = import_wandb()
    stored = stored_id(run.run_dir, NAME) if run.resume else None
    resume_id = stored.get("id") if stored and stored.get("project") == options.project else None
    wandb_run = wandb.init(
        project=options.project, entity=options.entity, mode=options.mode, dir=str(run.run_dir),
        id=resume_id, resume="allow" if resume_id else None, name=run.name, group=run.group,
        config=run_config(run), tags=run_tags(run), reinit="create_new",
        # console off: stdout stays the `--json` commands' own; no git calls (the record has the commit);
        # online without a stored key, W&B's login prompt gives up instead of holding the run.
        settings=wandb.Settings(silent=True, console="off", disable_git=True, init_timeout=INIT_TIMEOUT_S,
                                login_timeout=LOGIN_TIMEOUT_S),
    )
    store_id(run.run_dir, NAME, {"id": wandb_run.id, "project": options.project, "mode": options.mode})
    return WandbTracker(wandb_run, run.run_dir)
