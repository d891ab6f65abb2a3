"""Live progress of a sweep, read from the records its runs write (works for every launcher).

A background thread looks at `<sweep dir>/<run>/record.json` of every expected run once a second:
completed since the sweep started = done, completed before = skipped, failed since = failed,
running since = running, anything else = remaining. On a terminal it is a rich live line; else a
plain line whenever the counts change. `run_states` is the one-off view of `sweep --status`:
each run's record status and who holds it (runs/lock.py).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional, Sequence

from rich.console import Console
from rich.live import Live

from asffbench.errors import UserError
from asffbench.record.layout import RECORD_NAME
from asffbench.record.run_record import RunRecord
from asffbench.record.sections import or_none
from asffbench.record.storage import RecordProblem, read_record
from asffbench.runs.lock import Holder, read_holder

STATES = ("done", "skipped", "failed", "running", "remaining")


def parse_time(text: object) -> Optional[datetime]:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def readable_record(path: Path) -> Optional[RunRecord]:
    """The record at `path`; None when absent, unreadable or of a schema no asffbench wrote
    (progress is shown, not judged: the sweep itself says why such a record is refused)."""
    try:
        return read_record(path)
    except RecordProblem:
        return None


def classify(record: Optional[RunRecord], since: datetime) -> str:
    if not record:
        return "remaining"
    status = record.status
    started = parse_time(record.started)
    finished = parse_time(record.finished)
    fresh_finish = finished is not None and finished >= since
    if status == "completed":
        return "done" if fresh_finish else "skipped"
    if status == "failed" and fresh_finish:
        return "failed"
    if status == "running" and started is not None and started >= since:
        return "running"
    return "remaining"


def count_states(sweep_dir: Path, names: Sequence[str], since: datetime) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for name in names:
        counts[classify(readable_record(sweep_dir / name / RECORD_NAME), since)] += 1
    return counts


def describe(counts: dict[str, int], total: int) -> str:
    return f"sweep: {total} runs | " + " | ".join(f"{state} {counts[state]}" for state in STATES)


class SweepMonitor:
    """Context manager: watches the sweep while the launcher runs it."""

    def __init__(self, sweep_dir: Path, names: Sequence[str], enabled: bool = True, period: float = 1.0):
        self.sweep_dir = Path(sweep_dir)
        self.names = list(names)
        self.enabled = enabled
        self.period = period
        # Records carry whole seconds: a run finishing within the start second still counts.
        self.since = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=1)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def counts(self) -> dict[str, int]:
        return count_states(self.sweep_dir, self.names, self.since)

    def __enter__(self) -> "SweepMonitor":
        if self.enabled:
            self._thread = threading.Thread(target=self._watch, name="sweep-monitor", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        console = Console(stderr=True)
        if console.is_terminal:
            with Live(console=console, refresh_per_second=2, redirect_stdout=False, redirect_stderr=False) as live:
                while True:
                    live.update(describe(self.counts(), len(self.names)))
                    if self._stop.wait(self.period):
                        live.update(describe(self.counts(), len(self.names)))
                        return
        last = ""
        while not self._stop.wait(self.period):
            line = describe(self.counts(), len(self.names))
            if line != last:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
                last = line


@dataclass(frozen=True)
class RunState:
    """What `sweep --status` shows of one run dir: its record's status and who holds it."""

    name: str
    status: str  # the record's status, or "no record"
    holder: Optional[Holder]  # a live holder, or None
    stale_holder: Optional[Holder]  # lock.json of a holder that is gone (killed, or its host down)

    def describe(self) -> str:
        if self.holder is not None:
            age = max(0, int(time.time() - self.holder.heartbeat))
            return f"held by {self.holder.describe()} (heartbeat {age} s ago)"
        if self.stale_holder is not None:
            return f"not held (last holder {self.stale_holder.describe()} is gone; a rerun resumes it)"
        return "not held"


def run_states(sweep_dir: Path) -> list[RunState]:
    """Every run dir of a sweep dir (one with a record or a lock), in name order."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise UserError(f"{sweep_dir}: sweep directory not found")
    states = []
    for run_dir in sorted(p for p in sweep_dir.iterdir() if p.is_dir()):
        record = readable_record(run_dir / RECORD_NAME)
        holder = read_holder(run_dir)
        if record is None and holder is None:
            continue
        live = holder is not None and holder.is_live()
        states.append(RunState(
            name=run_dir.name,
            status=str(or_none(record.status)) if record else "no record",
            holder=holder if live else None,
            stale_holder=None if live else holder,
        ))
    return states
