"""MLflow (`logger=[mlflow]`, extra `track`): one MLflow run per asffbench run.

The mapping, shared with `report --mlflow` (mlflow_push.py): the experiment is the run's group
(its sweep, `asffbench` outside one; `logger.mlflow.experiment` overrides), the MLflow run is
named after the run; params = the resolved config flattened (keys joined by dots, values cut to
MLflow's length limit); tags = the experiment hash, the run name, the sweep and its axes
(`axis.<key>`); metrics = the train log's lines (events.py) at their steps, then the final
metrics (run_info.FINAL_*); artifacts = record.json, config.yaml and the run's figures.
The default tracking URI is the file store `<run dir's parent>/mlruns` (the sweep directory),
which needs no server. The run id is kept in the run dir (ids.py): a resumed run continues it.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Mapping, Optional, Sequence
from urllib.parse import urlparse

from asffbench.extras import require_extra
from asffbench.trackers.base import Tracker, warn
from asffbench.trackers.events import line_metrics
from asffbench.trackers.ids import store_id, stored_id
from asffbench.trackers.options import TRACK_EXTRA, MlflowOptions
from asffbench.trackers.run_info import RunOutcome, TrackedRun, run_artifacts

NAME = "mlflow"
STORE_FOLDER = "mlruns"
# MLflow's limits (mlflow.utils.validation), should a version not say them.
PARAM_VALUE_LIMIT = 6000
KEY_LIMIT = 250
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000
CUT_MARK = "...[cut]"
# Tags that find a run again: `report --mlflow` skips a record whose run is already there.
KEY_TAGS = ("experiment_hash", "run_name")
# HTTP stores: no retries while starting (an unreachable server is one quick warning), a couple
# later (a blip mid-run); a request waits at most this long. A variable the user set wins.
START_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
RUN_HTTP = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
# MLflow 3 refuses its file store unless opted in; asffbench's default store is one (no server).
FILE_STORE_OPT_IN = {"MLFLOW_ALLOW_FILE_STORE": "true"}


def import_mlflow(option: str = "logger=[mlflow]") -> ModuleType:
    mlflow = require_extra("mlflow", option, TRACK_EXTRA)
    require_extra("mlflow.tracking", option, TRACK_EXTRA)
    require_extra("mlflow.entities", option, TRACK_EXTRA)
    return mlflow


def default_uri(run_dir: Path) -> str:
    """The file store in the run dir's parent (the sweep directory; runs/ for a loose run)."""
    return (Path(run_dir).resolve().parent / STORE_FOLDER).as_uri()


def is_file_store(uri: str) -> bool:
    return urlparse(uri).scheme in ("", "file")


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """MLflow's settings for the calls inside (environment variables it reads per call); a variable
    already set is left as it is; the others are removed again afterwards."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(CUT_MARK)] + CUT_MARK


def limit(mlflow: ModuleType, name: str, default: int) -> int:
    validation = getattr(getattr(mlflow, "utils", None), "validation", None)
    return int(getattr(validation, name, default))


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def now_ms() -> int:
    return int(time.time() * 1000)


class MlflowSession:
    """One MLflow run of one store, every call made with the store's settings (environment)."""

    def __init__(self, mlflow: ModuleType, uri: str, run_id: str = "") -> None:
        self.mlflow = mlflow
        self.uri = uri
        self.run_id = run_id
        self.http = START_HTTP
        with self.environment():
            self.client = mlflow.tracking.MlflowClient(tracking_uri=uri)

    @contextmanager
    def environment(self) -> Iterator[None]:
        with environment({**self.http, **(FILE_STORE_OPT_IN if is_file_store(self.uri) else {})}):
            yield

    def experiment_id(self, name: str) -> str:
        with self.environment():
            found = self.client.get_experiment_by_name(name)
            if found is not None:
                return found.experiment_id
            try:
                return self.client.create_experiment(name)
            except self.mlflow.exceptions.MlflowException:
                found = self.client.get_experiment_by_name(name)  # created meanwhile by another job
                if found is None:
                    raise
                return found.experiment_id

    def find_run(self, experiment_id: str, tags: Mapping[str, str]) -> Optional[str]:
        """The id of a run of the experiment carrying these tag values (not deleted), if any."""
        query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
        with self.environment():
            runs = self.client.search_runs([experiment_id], filter_string=query, max_results=1)
        return runs[0].info.run_id if runs else None

    def tag(self, run_id: str, key: str) -> Optional[str]:
        with self.environment():
            return self.client.get_run(run_id).data.tags.get(key)

    def set_tag(self, key: str, value: str) -> None:
        with self.environment():
            self.client.set_tag(self.run_id, key, value)

    def delete(self, run_id: str) -> None:
        with self.environment():
            self.client.delete_run(run_id)

    def continues(self, run_id: str) -> bool:
        """Whether `run_id` is a live run of this store; if so it is this session's, running again.
        One that cannot be read (deleted, or torn by a kill inside a file-store write) is said in
        a warning line, and the caller opens a new run."""
        with self.environment():
            try:
                run = self.client.get_run(run_id)
            except Exception as err:  # noqa: BLE001 - MlflowException, or a file store's ValueError
                warn(NAME, f"stored run {run_id} not continued, a new one is opened", err, goes_on=False)
                return False
            if run.info.lifecycle_stage != "active":
                return False
            self.client.update_run(run_id, status="RUNNING")
        self.run_id = run_id
        return True

    def create(self, experiment_id: str, run: TrackedRun, start_ms: Optional[int] = None) -> str:
        with self.environment():
            created = self.client.create_run(experiment_id, start_time=start_ms, run_name=run.name,
                                             tags=dict(run.tags))
        self.run_id = created.info.run_id
        self.log_params(run.params)
        return self.run_id

    def log_params(self, params: Mapping[str, str]) -> None:
        entities = self.mlflow.entities
        value_limit = limit(self.mlflow, "MAX_PARAM_VAL_LENGTH", PARAM_VALUE_LIMIT)
        key_limit = limit(self.mlflow, "MAX_ENTITY_KEY_LENGTH", KEY_LIMIT)
        items = [entities.Param(cut(k, key_limit), cut(v, value_limit)) for k, v in params.items()]
        with self.environment():
            for batch in batches(items, limit(self.mlflow, "MAX_PARAMS_TAGS_PER_BATCH", PARAMS_PER_BATCH)):
                self.client.log_batch(self.run_id, params=list(batch))

    def log_metrics(self, values: Mapping[str, float], step: int, timestamp_ms: Optional[int] = None) -> None:
        stamp = timestamp_ms or now_ms()
        items = [self.mlflow.entities.Metric(k, v, stamp, step) for k, v in values.items()]
        with self.environment():
            for batch in batches(items, limit(self.mlflow, "MAX_METRICS_PER_BATCH", METRICS_PER_BATCH)):
                self.client.log_batch(self.run_id, metrics=list(batch))

    def log_line(self, line: Mapping[str, Any]) -> None:
        metrics = line_metrics(line)
        if metrics is not None and metrics.values:
            stamp = int(float(line["time"]) * 1000) if isinstance(line.get("time"), (int, float)) else None
            self.log_metrics(metrics.values, metrics.step, stamp)

    def log_files(self, run_dir: Path) -> None:
        with self.environment():
            for path in run_artifacts(run_dir):
                folder = path.parent.relative_to(run_dir).as_posix()
                self.client.log_artifact(self.run_id, str(path), None if folder == "." else folder)

    def end(self, outcome: RunOutcome, end_ms: Optional[int] = None) -> None:
        """The final metrics and the status; the artifacts are logged before (`log_files`)."""
        self.log_metrics(outcome.metrics, step=0, timestamp_ms=end_ms)
        with self.environment():
            self.client.set_tag(self.run_id, "status", outcome.status)
        with self.environment():
            self.client.set_terminated(self.run_id, "FAILED" if outcome.failed else "FINISHED", end_time=end_ms)

    def terminate(self, status: str) -> None:
        with self.environment():
            self.client.set_terminated(self.run_id, status)


class MlflowTracker(Tracker):
    name = NAME

    def __init__(self, session: MlflowSession, run_dir: Path) -> None:
        self.session = session
        self.run_dir = run_dir
        self.finished = False

    def log_line(self, line: Mapping[str, Any]) -> None:
        self.session.log_line(line)

    def finish(self, outcome: RunOutcome) -> None:
        self.session.log_files(self.run_dir)
        self.session.end(outcome)
        self.finished = True

    def close(self) -> None:
        if not self.finished:  # cut short (an interrupt): a resumed attempt sets it running again
            self.session.terminate("KILLED")


def start_mlflow(options: MlflowOptions, run: TrackedRun) -> MlflowTracker:
    """The MLflow run of `run`: the one stored in its run dir when resuming, else a new one."""
    uri = options.uri or default_uri(run.run_dir)
    session = MlflowSession(import_mlflow(), uri)
    experiment = session.experiment_id(options.experiment or run.group)
    stored = stored_id(run.run_dir, NAME) if run.resume else None
    if not (stored and stored.get("uri") == uri and session.continues(str(stored.get("run_id")))):
        session.create(experiment, run)
        store_id(run.run_dir, NAME, {"run_id": session.run_id, "uri": uri, "experiment_id": experiment})
    session.http = RUN_HTTP
    return MlflowTracker(session, run.run_dir)
