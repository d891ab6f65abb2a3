"""`asffbench run run_dir=R`: what a single run does with what R already holds.

A sweep job never overwrites a finished run (runs/resume.py); a single run is as careful. Under
R's lock, before anything is written:

- nothing of a run in R: start;
- a `completed` record of this experiment (same hash): skip, and say so; `--force` redoes it;
- a `running` or `failed` record of this experiment with `checkpoints/last.pt`: resume from it
  (`--force`: start afresh);
- a record or a checkpoint of another experiment: refused, one line naming both hashes;
- a checkpoint without a record: resumed when the config stored in it is this experiment's,
  else refused (also when no experiment can be read from it).

Whatever a start afresh would replace (record, config, weights, log, metrics) is first moved into
`R/.replaced-<time>/`, never deleted. Reports find records by name anywhere below a sweep dir,
so the old record is kept there as `record.replaced.json`, and the leading dot keeps the folder
out of the scan for runs without a record.
The ranks of a DDP launch decide alike from the same files; only rank 0 moves anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

from omegaconf import DictConfig, open_dict

from asffbench.engine.checkpoint import load_checkpoint
from asffbench.engine.distributed import process_rank
from asffbench.errors import UserError
from asffbench.record_schema import RECORD_NAME
from asffbench.record_types import RunRecord
from asffbench.runs.lock import HOLDER_NAME, LOCK_NAME
from asffbench.runs.record import experiment_hash
from asffbench.runs.record_io import read_run_record
from asffbench.runs.resume import CHECKPOINT, FRESH, RESUME, SKIP, attempt_id
from asffbench.runs.run import own_run, run_experiment

REPLACED_PREFIX = ".replaced-"
REPLACED_RECORD = "record.replaced.json"  # not a record.json: a report must not count it twice
KEPT_IN_PLACE = (LOCK_NAME, HOLDER_NAME)  # the lock of this very run


@dataclass(frozen=True)
class SinglePlan:
    action: str  # skip | resume | fresh
    reason: str
    replaces: bool = False  # a fresh start over an earlier run of this experiment (--force)


@dataclass(frozen=True)
class SingleRun:
    plan: SinglePlan
    record: RunRecord  # the run's record, or the completed one a skip found
    set_aside: Optional[Path] = None  # where the replaced run's files went


def run_single(cfg: DictConfig, force: bool = False) -> SingleRun:
    """Plan from what `cfg.run_dir` holds (under its lock), then skip, resume or run afresh."""
    if not cfg.run_dir:  # a fresh directory of its own: nothing to find
        return SingleRun(SinglePlan(FRESH, "a new run directory"), run_experiment(cfg))
    run_dir = Path(cfg.run_dir).resolve()
    exp_hash = experiment_hash(cfg)
    with own_run(run_dir):
        plan = plan_single_run(exp_hash, run_dir, force)
        if plan.action == SKIP:
            record = read_run_record(run_dir / RECORD_NAME)
            assert record is not None  # the plan read it
            return SingleRun(plan, record)
        aside = set_aside(run_dir) if plan.replaces and process_rank() == 0 else None
        cfg = cfg.copy()
        with open_dict(cfg):
            cfg.train.resume = plan.action == RESUME
        attempt = {"id": attempt_id(), "action": plan.action, "reason": plan.reason}
        return SingleRun(plan, run_experiment(cfg, attempt=attempt), aside)


def plan_single_run(exp_hash: str, run_dir: Path, force: bool) -> SinglePlan:
    """What `asffbench run` does in `run_dir` for experiment `exp_hash` (see the module)."""
    record_path, checkpoint = run_dir / RECORD_NAME, run_dir / CHECKPOINT
    record = read_run_record(record_path)
    if record is None and record_path.exists():
        raise UserError(f"run_dir={run_dir}: its {RECORD_NAME} cannot be read; move it away or choose another run_dir")
    if record is not None:
        return plan_over_record(record, exp_hash, run_dir, checkpoint.is_file(), force)
    if not checkpoint.is_file():
        return SinglePlan(FRESH, "no earlier run here")
    found = checkpoint_experiment(checkpoint, run_dir)
    if found != exp_hash:
        raise UserError(f"run_dir={run_dir}: holds {CHECKPOINT} of experiment {found} (no {RECORD_NAME}); "
                        f"this config is experiment {exp_hash}; choose another run_dir")
    if force:
        return SinglePlan(FRESH, "forced over this experiment's checkpoint", replaces=True)
    return SinglePlan(RESUME, f"{CHECKPOINT} of this experiment without a record")


def plan_over_record(record: RunRecord, exp_hash: str, run_dir: Path, has_checkpoint: bool,
                     force: bool) -> SinglePlan:
    if record.experiment_hash != exp_hash:
        raise UserError(f"run_dir={run_dir}: holds experiment {record.experiment_hash} ({RECORD_NAME}, "
                        f"{record.status}); this config is experiment {exp_hash}; choose another run_dir")
    if force:
        return SinglePlan(FRESH, "forced", replaces=True)
    if record.status == "completed":
        return SinglePlan(SKIP, f"a completed run of this experiment: {run_dir / RECORD_NAME}")
    if has_checkpoint and record.status in ("running", "failed"):
        return SinglePlan(RESUME, f"continuing a {record.status} run from its checkpoint")
    return SinglePlan(FRESH, f"a {record.status} run without a checkpoint", replaces=True)


def checkpoint_experiment(checkpoint: Path, run_dir: Path) -> str:
    """The experiment hash of the config a training checkpoint stores; UserError when it has none."""
    config = load_checkpoint(checkpoint).get("config")
    if not isinstance(config, dict):
        raise UserError(f"run_dir={run_dir}: holds {CHECKPOINT} without a config (not written by training), "
                        f"so not of a known experiment; choose another run_dir")
    return experiment_hash(config)


def set_aside(run_dir: Path) -> Optional[Path]:
    """Move what the run dir holds (but its lock and earlier set-asides) into `.replaced-<time>/`."""
    entries = [p for p in run_dir.iterdir()
               if p.name not in KEPT_IN_PLACE and not p.name.startswith(REPLACED_PREFIX)]
    if not entries:
        return None
    aside = run_dir / f"{REPLACED_PREFIX}{datetime.now():%Y%m%d-%H%M%S-%f}"
    aside.mkdir()
    for entry in entries:
        entry.replace(aside / (REPLACED_RECORD if entry.name == RECORD_NAME else entry.name))
    return aside
