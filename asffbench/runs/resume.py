"""What a sweep job does with what earlier attempts left: skip, resume or start afresh.

Hydra has no sweep resume, so every job decides for itself from the records and checkpoints in
the sweep directory:

- a `completed` record with the same experiment hash anywhere in the sweep dir: skip
  (unless `--force`);
- its own run dir holds a record of the same experiment that is `running` (the process was
  killed, or SLURM requeued it after preemption or timeout) or `failed` (not with `--force`),
  plus `checkpoints/last.pt`: resume training from that checkpoint;
- otherwise: start afresh; a checkpoint left by another experiment (or a forced rerun) is removed
  first, so a later resume can never pick up weights that are not this experiment's.

All ranks of a multi-task job must decide alike. Rank 0 stores its decision in the `running`
record under `attempt` (with an id shared by the ranks of one attempt); a rank that finds such a
record of its own attempt follows it, and a rank that reads before it was written saw the same
state rank 0 decided from.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from asffbench.engine.distributed import process_rank
from asffbench.record.layout import RECORD_NAME
from asffbench.record.run_record import Attempt, RunRecord
from asffbench.record.sections import part
from asffbench.record.storage import UnreadableRecord, read_record

CHECKPOINT = Path("checkpoints") / "last.pt"
SKIP, RESUME, FRESH = "skip", "resume", "fresh"
_LOCAL_ATTEMPT = uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Plan:
    action: str  # skip | resume | fresh
    reason: str
    existing: Optional[Path] = None  # the completed record that makes a skip


def attempt_id() -> str:
    """Shared by every rank of one attempt of a job; new on a SLURM requeue."""
    job = os.environ.get("SLURM_JOB_ID")
    if job:
        if os.environ.get("SLURM_ARRAY_JOB_ID"):
            job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID', '0')}"
        return f"slurm-{job}-{os.environ.get('SLURM_RESTART_COUNT', '0')}"
    elastic = os.environ.get("TORCHELASTIC_RUN_ID")
    if elastic:
        return f"torchrun-{elastic}-{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"
    return f"local-{os.getpid()}-{_LOCAL_ATTEMPT}"


def record_if_readable(path: Path) -> Optional[RunRecord]:
    """The record at `path`; None when there is none to read (absent, or cut short). A record of
    a schema no asffbench wrote stops the sweep (`RefusedRecord`) rather than being overwritten."""
    try:
        return read_record(path)
    except UnreadableRecord:
        return None


def plan_run(exp_hash: str, run_dir: Path, sweep_dir: Path, force: bool) -> Plan:
    own = record_if_readable(run_dir / RECORD_NAME)
    attempt = part(own.attempt if own else None, Attempt)
    if own and own.status == "running" and attempt.id == attempt_id():
        return Plan(attempt.action if isinstance(attempt.action, str) else FRESH, "decided by rank 0 of this attempt")
    if not force:
        done = completed_record(exp_hash, run_dir, sweep_dir)
        if done is not None:
            return Plan(SKIP, f"completed record {done}", existing=done)
    checkpoint = run_dir / CHECKPOINT
    if own and own.experiment_hash == exp_hash and checkpoint.is_file():
        status = own.status
        if status == "running":
            return Plan(RESUME, "an earlier attempt was interrupted")
        if status == "failed" and not force:
            return Plan(RESUME, "retrying a failed run from its checkpoint")
    return Plan(FRESH, "forced" if force else "no usable earlier attempt")


def completed_record(exp_hash: str, run_dir: Path, sweep_dir: Path) -> Optional[Path]:
    """A completed record of this experiment: the run's own first, then any in the sweep dir."""
    candidates = [run_dir / RECORD_NAME, *sorted(sweep_dir.glob(f"*/{RECORD_NAME}"))]
    for path in candidates:
        record = record_if_readable(path)
        if record and record.status == "completed" and record.experiment_hash == exp_hash:
            return path
    return None


def clear_stale_checkpoint(run_dir: Path) -> None:
    """Before a fresh start: remove the checkpoint an earlier, different attempt left (rank 0)."""
    if process_rank() == 0:
        (run_dir / CHECKPOINT).unlink(missing_ok=True)
