"""Reading `record.json` without torch: what `sweep --status` (runs/monitor.py) and the resume
planner need. Writing is `runs/record.py`'s (rank 0, atomically)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from asffbench.record_types import RunRecord, record_from_json


def read_record(path: Path) -> Optional[dict]:
    """The JSON object at `path` as written, or None when it is absent or unreadable (never raises)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_run_record(path: Path) -> Optional[RunRecord]:
    """The record at `path`, None when it is absent or unreadable; a schema_version no asffbench
    wrote is refused (UserError naming the file and the version)."""
    data = read_record(path)
    return None if data is None else record_from_json(data, Path(path))
