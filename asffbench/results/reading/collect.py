"""`collect`: every record under some sweep directories, as one pandas DataFrame (a row per run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd

from asffbench.atomic import write_path_atomic
from asffbench.errors import UserError
from asffbench.record.layout import RECORD_NAME, TRAIN_LOG_NAME
from asffbench.record.storage import RecordProblem, newer_schema_warning
from asffbench.results.reading.records import LoadedRecord, find_record_files, flatten_record, load_record

# Files a run writes before its final record: a directory holding one but no record.json is a
# run that never finished (killed, or still going).
RUN_MARKERS = ("config.yaml", TRAIN_LOG_NAME)


@dataclass
class Collection:
    frame: pd.DataFrame
    records: list[LoadedRecord] = field(default_factory=list)  # aligned with frame rows
    problems: list[RecordProblem] = field(default_factory=list)
    unrecorded_runs: list[Path] = field(default_factory=list)  # run dirs without a record.json
    sweep_dirs: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)


def sweep_folder(path: Path) -> Path:
    """The folder a given sweep path stands for (a record.json stands for its own folder)."""
    return path if path.is_dir() else path.parent


def check_sweep_dirs(paths: Sequence[Path | str]) -> list[Path]:
    if not paths:
        raise UserError("give at least one sweep directory (or record.json) to collect")
    dirs = [Path(p) for p in paths]
    for path in dirs:
        if not path.exists():
            raise UserError(f"{path}: no such directory")
        if path.is_file() and path.name != RECORD_NAME:
            raise UserError(f"{path}: not a directory or a {RECORD_NAME}")
    return dirs


def find_unrecorded_runs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = set()
    for marker in RUN_MARKERS:
        for path in root.rglob(marker):
            relative = path.relative_to(root).parts
            if any(part.startswith(".") for part in relative):
                continue  # Hydra's own .hydra/config.yaml is not a run
            if not (path.parent / RECORD_NAME).exists():
                found.add(path.parent)
    return sorted(found)


def collect(paths: Sequence[Path | str]) -> Collection:
    """Load every record.json under `paths`; unreadable records become problems, not errors."""
    dirs = check_sweep_dirs(paths)
    records: list[LoadedRecord] = []
    problems: list[RecordProblem] = []
    seen: set[Path] = set()
    unrecorded: list[Path] = []
    for root in dirs:
        for path in find_record_files(root):
            if path.resolve() in seen:
                continue  # the same record reached through two of the given directories
            seen.add(path.resolve())
            try:
                loaded = load_record(path, root)
            except RecordProblem as problem:
                problems.append(problem)
                continue
            newer = newer_schema_warning(path, loaded.record)
            if newer is not None:
                problems.append(newer)
            records.append(loaded)
        unrecorded.extend(p for p in find_unrecorded_runs(root) if p not in unrecorded)
    frame = pd.DataFrame([flatten_record(r) for r in records])
    return Collection(frame=frame, records=records, problems=problems,
                      unrecorded_runs=unrecorded, sweep_dirs=dirs)


def parquet_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow needs one type per column: mixed object columns (bools and 'missing') become text."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return out


def write_frame(frame: pd.DataFrame, csv_path: Path) -> list[Path]:
    """Write the CSV, and a Parquet file beside it when pyarrow is importable; return the paths."""
    written = [csv_path]
    try:
        write_path_atomic(csv_path, lambda tmp: frame.to_csv(tmp, index=False))
        try:  # an optional extra (`parquet`): only whether it imports
            import pyarrow  # noqa: F401
        except ImportError:
            return written
        parquet_path = csv_path.with_suffix(".parquet")
        write_path_atomic(parquet_path, lambda tmp: parquet_ready(frame).to_parquet(tmp, index=False))
        written.append(parquet_path)
    except OSError as err:  # --out is a directory, or below a file
        raise UserError(f"{csv_path}: cannot write ({err.strerror or err})") from None
    return written
