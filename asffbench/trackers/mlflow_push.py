"""`asffbench report --mlflow URI`: a finished sweep's records into MLflow, after the fact.

One MLflow run per record, with the mapping of a run tracked live (mlflow_tracker.py): the config
as params, the tags, the train log replayed at its steps and times, the final metrics, the
artifacts, the run's start and end times and its status. Idempotent: a record whose run (same
experiment hash and run name, in the same experiment) is already in the store is skipped, whether
pushed before or tracked live; a push cut short is replaced by the next one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from asffbench.errors import UserError
from asffbench.record_schema import TRAIN_LOG_NAME, train_log_entries
from asffbench.trackers.base import first_line
from asffbench.trackers.mlflow_tracker import KEY_TAGS, MlflowSession, import_mlflow
from asffbench.trackers.run_info import outcome_of_record, tracked_record

OPTION = "report --mlflow"
PUSH_TAG = "asffbench.push"  # "started" while a push logs the run, "done" once it is whole
FINISHED_STATUSES = ("completed", "failed")


@dataclass
class PushSummary:
    uri: str
    pushed: list[Path] = field(default_factory=list)  # record files now in MLflow
    present: list[Path] = field(default_factory=list)  # already there: skipped
    unfinished: list[Path] = field(default_factory=list)  # running or unreadable: not pushed

    def statement(self) -> str:
        return (f"mlflow: {len(self.pushed)} run(s) pushed, {len(self.present)} already there, "
                f"{len(self.unfinished)} not finished -> {self.uri}")


def iso_ms(stamp: Any) -> Optional[int]:
    """An ISO-8601 time of the record as MLflow's milliseconds; None when absent or unreadable."""
    try:
        return int(datetime.fromisoformat(str(stamp)).timestamp() * 1000)
    except ValueError:
        return None


def read_finished(path: Path) -> Optional[dict]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("status") in FINISHED_STATUSES else None


def push_records(record_paths: Sequence[Path], uri: str, experiment: Optional[str] = None) -> PushSummary:
    """Push every finished record of `record_paths` to the MLflow store at `uri`; UserError (one
    line naming the option) when the store cannot be used."""
    summary = PushSummary(uri)
    try:
        session = MlflowSession(import_mlflow(OPTION), uri)
        for path in record_paths:
            record = read_finished(path)
            if record is None:
                summary.unfinished.append(Path(path))
            elif push_record(session, record, Path(path), experiment):
                summary.pushed.append(Path(path))
            else:
                summary.present.append(Path(path))
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - MLflow's and the network's errors, as one line
        raise UserError(f"{OPTION} {uri}: {type(err).__name__}: {first_line(err)}") from None
    return summary


def push_record(session: MlflowSession, record: Mapping[str, Any], path: Path, experiment: Optional[str]) -> bool:
    """One record as one MLflow run; False when its run is already there."""
    run = tracked_record(record, path)
    experiment_id = session.experiment_id(experiment or run.group)
    found = session.find_run(experiment_id, {key: run.tags[key] for key in KEY_TAGS})
    if found is not None:
        if session.tag(found, PUSH_TAG) != "started":
            return False
        session.delete(found)  # a push cut short: pushed again, whole
    session.create(experiment_id, run, start_ms=iso_ms(record.get("started")))
    session.set_tag(PUSH_TAG, "started")
    log = run.run_dir / TRAIN_LOG_NAME
    for line in train_log_entries(log) if log.is_file() else ():
        session.log_line(line)
    session.log_files(run.run_dir)
    session.end(outcome_of_record(record), end_ms=iso_ms(record.get("finished")))
    session.set_tag(PUSH_TAG, "done")
    return True
