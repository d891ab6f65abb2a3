"""The trackers' run ids kept in the run directory (`trackers.json`), so a resumed run continues
its MLflow / W&B run instead of opening a second one. Rank 0 writes, atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from asffbench.atomic import write_json_atomic

IDS_NAME = "trackers.json"


def stored_ids(run_dir: Path) -> dict[str, Any]:
    """{tracker: what it stored}; empty when the file is absent or unreadable (a fresh start)."""
    try:
        data = json.loads((Path(run_dir) / IDS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def stored_id(run_dir: Path, tracker: str) -> Optional[dict[str, Any]]:
    entry = stored_ids(run_dir).get(tracker)
    return entry if isinstance(entry, dict) else None


def store_id(run_dir: Path, tracker: str, entry: dict[str, Any]) -> None:
    ids = stored_ids(run_dir)
    ids[tracker] = entry
    write_json_atomic(Path(run_dir) / IDS_NAME, ids)
