"""`record.json` on disk: the one reader (`read_record`) and the one writer (`write_record`).

One failure convention: a record that cannot be read raises a `RecordProblem`, a `UserError`
whose one line names the file and why. Two kinds, because callers differ only in which they
forgive:
- `UnreadableRecord`: absent, not UTF-8 JSON, or not a JSON object (a run still writing its
  first record, or a file cut short). A sweep deciding what to skip treats it as no record.
- `RefusedRecord`: a schema_version no asffbench wrote. It stops a sweep (the record is not
  silently overwritten); the report lists it and reads on.
A record a newer asffbench wrote (schema_version above `SCHEMA_VERSION`) is read, as far as its
fields are known; `newer_schema_warning` says so, for the report to list.

Writing is atomic (temp file in the same folder, fsync, rename, fsync the folder), so a reader
never sees a torn file. Who writes (rank 0 of a launch) is the caller's decision (runs/).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional

from asffbench.atomic import write_json_atomic
from asffbench.errors import UserError
from asffbench.record.layout import SCHEMA_VERSION
from asffbench.record.run_record import RunRecord
from asffbench.record.sections import MISSING


class RecordProblem(UserError):
    """A record.json that is not read as it stands: `path`, and `reason` (without the path)."""

    loaded = False  # True: the record was still read (a warning, not an unreadable record)

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


class UnreadableRecord(RecordProblem):
    """Absent, not JSON, or not a JSON object."""


class RefusedRecord(RecordProblem):
    """A schema_version no asffbench wrote."""


class NewerRecord(RecordProblem):
    """Read, but written by a newer asffbench: its fields may differ (a warning, never raised)."""

    loaded = True


def read_record(path: Path) -> RunRecord:
    """The record at `path`; `UnreadableRecord` or `RefusedRecord` when it cannot be read."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UnreadableRecord(path, f"cannot read: {err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UnreadableRecord(path, f"not valid JSON ({err.msg} at line {err.lineno})") from None
    return record_from_json(data, path)


def record_from_json(data: Any, path: Path) -> RunRecord:
    """The record of a parsed record.json (`path` names it in the problem)."""
    if not isinstance(data, Mapping):
        raise UnreadableRecord(path, f"not a JSON object (found {type(data).__name__})")
    problem = schema_version_problem(data)
    if problem is not None:
        raise RefusedRecord(path, problem)
    return RunRecord.from_dict(data)


def schema_version_problem(data: Mapping[str, Any]) -> Optional[str]:
    """Why a record's schema_version cannot be read by this version, or None when it can.

    Absent: a record from before versioning (read with its gaps). 1..SCHEMA_VERSION: read. A
    larger integer: a newer asffbench wrote it (read as far as its fields are known). Anything
    else is refused.
    """
    version = data.get("schema_version", MISSING)
    if version is MISSING:
        return None
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        return None
    return f"schema_version {json.dumps(version)} is not a record schema this asffbench knows (1..{SCHEMA_VERSION})"


def newer_schema_warning(path: Path, record: RunRecord) -> Optional[NewerRecord]:
    """A `NewerRecord` when a newer asffbench wrote the record, else None."""
    version = record.schema_version
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        return NewerRecord(path, f"schema_version {version} is newer than this asffbench reads ({SCHEMA_VERSION}); "
                                 "loaded as far as its fields are known")
    return None


def write_record(path: Path, record: RunRecord | Mapping[str, Any]) -> None:
    """Write the record atomically (a mapping as it is: a test's or a hand-made record)."""
    write_json_atomic(Path(path), record.to_dict() if isinstance(record, RunRecord) else record)
