"""What a tracker is told about a run: who it is (`TrackedRun`) and how it ended (`RunOutcome`).

Both are built the same way from a live run (runs/) and from a finished run's record.json
(`report --mlflow`), so a run pushed after the fact looks like one tracked while it ran.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from asffbench.record_schema import RECORD_NAME

LOOSE_GROUP = "asffbench"  # the group (MLflow experiment, W&B group) of a run outside a sweep
RUN_CONFIG_NAME = "config.yaml"  # compose.RUN_CONFIG (the config layer sits above this unit)
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
# Folders of a run dir that hold trackers' own files, never the run's figures.
TRACKER_FOLDERS = ("tensorboard", "wandb", "mlruns")
# The record's numbers a tracker gets as the run's final metrics.
FINAL_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
                 "mAP", "mAP07")
FINAL_BENCH = ("params", "gmacs", "gflops", "fps", "fps_median", "images_per_s", "images_per_s_median")
FINAL_RUN = ("train_seconds", "device_seconds")


@dataclass(frozen=True)
class TrackedRun:
    run_dir: Path
    name: str  # the run dir's name (a swept run's name)
    group: str  # the sweep (the run dir's parent's name), LOOSE_GROUP outside a sweep
    config: Mapping[str, Any] = field(repr=False)  # the resolved config, plain and nested
    tags: Mapping[str, str] = field(default_factory=dict)  # experiment_hash, run_name, sweep, axis.<key>
    resume: bool = False  # train.resume: continue the trackers' runs stored in the run dir

    @property
    def params(self) -> dict[str, str]:
        return flat_params(self.config)


@dataclass(frozen=True)
class RunOutcome:
    status: str  # the record's: completed | failed
    metrics: dict[str, float]  # the final AP, FLOPs, FPS, ... (FINAL_*)

    @property
    def failed(self) -> bool:
        return self.status != "completed"


def group_name(run_dir: Path, swept: bool) -> str:
    return Path(run_dir).resolve().parent.name if swept else LOOSE_GROUP


def tracked_run(config: Mapping[str, Any], run_dir: Path, *, experiment_hash: str,
                axes: Optional[Mapping[str, Any]] = None, swept: bool = False, resume: bool = False) -> TrackedRun:
    run_dir = Path(run_dir)
    group = group_name(run_dir, swept)
    tags = {"experiment_hash": experiment_hash, "run_name": run_dir.name, "sweep": group if swept else "",
            **{f"axis.{key}": param_text(value) for key, value in (axes or {}).items()}}
    return TrackedRun(run_dir, run_dir.name, group, config, tags, resume)


def tracked_record(record: Mapping[str, Any], record_path: Path) -> TrackedRun:
    """The run a record.json describes (its run dir: the file's folder)."""
    return tracked_run(record.get("config") or {}, Path(record_path).parent,
                       experiment_hash=str(record.get("experiment_hash") or ""),
                       axes=record.get("axes") or {}, swept=record.get("sweep") is not None)


def param_text(value: Any) -> str:
    """A config value as a tracker parameter: text as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """The nested config as `{"fusion.name": "asff", ...}`: keys joined by dots, values as text."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            out.update(flat_params(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = param_text(value)
    return out


def pick_numbers(section: Any, keys: tuple[str, ...]) -> dict[str, float]:
    if not isinstance(section, Mapping):
        return {}
    return {k: float(section[k]) for k in keys
            if isinstance(section.get(k), (int, float)) and not isinstance(section.get(k), bool)}


def outcome_of_record(record: Mapping[str, Any]) -> RunOutcome:
    """The final metrics of a record (its plain JSON object): AP and the rest, params, FLOPs, FPS, times."""
    metrics = {**pick_numbers(record.get("metrics"), FINAL_METRICS), **pick_numbers(record.get("bench"), FINAL_BENCH),
               **pick_numbers(record, FINAL_RUN)}
    return RunOutcome(str(record.get("status") or "unknown"), metrics)


def run_artifacts(run_dir: Path) -> list[Path]:
    """The files a tracker keeps of a run: record.json, config.yaml and the run's figures."""
    run_dir = Path(run_dir)
    files = [run_dir / name for name in (RECORD_NAME, RUN_CONFIG_NAME) if (run_dir / name).is_file()]
    for path in sorted(run_dir.rglob("*")):
        inside = path.relative_to(run_dir).parts
        if (path.suffix.lower() in FIGURE_SUFFIXES and path.is_file() and inside[0] not in TRACKER_FOLDERS
                and not any(part.startswith(".") for part in inside)):
            files.append(path)
    return files
