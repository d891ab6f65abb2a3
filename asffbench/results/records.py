"""Find and read run records (`record.json`) and flatten each into one table row.

Records come from other asffbench versions too, so every field may be absent: a missing field
becomes NaN (numbers) or the text ``missing`` (everything else), never an error. A record that is
not readable JSON at all is reported as a problem with its path instead of stopping the caller.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asffbench.record_schema import RECORD_NAME, SCHEMA_VERSION, run_name

SUPPORTED_SCHEMA = SCHEMA_VERSION  # the newest record schema this version reads
MISSING_TEXT = "missing"
METRIC_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
               "mAP", "mAP07")  # the last two: VOC mAP (area, 11-point), in records of eval.metric=voc
PARTS = ("backbone", "neck", "fusion", "head")
HARDWARE_KEYS = ("cpu", "cpu_count", "gpu", "gpu_count", "host")
VERSION_KEYS = ("python", "torch", "torchvision", "cuda", "asffbench")


class _Missing:
    """The key is absent from the record (as opposed to present and null)."""

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING = _Missing()


@dataclass(frozen=True)
class RecordProblem:
    path: Path
    reason: str
    loaded: bool = False  # True: the record was still read (a warning, not an unreadable record)


@dataclass(frozen=True)
class LoadedRecord:
    path: Path  # the record.json file
    sweep_dir: Path  # the directory it was found under (as given by the user)
    data: dict

    @property
    def run_dir(self) -> Path:
        return self.path.parent


def run_label(record: LoadedRecord) -> str:
    """How a run is named in reports: its swept axes (as its sweep names its folder), else its
    directory name."""
    axes = record.data.get("axes")
    if isinstance(axes, dict) and axes:
        return run_name(axes)
    return record.run_dir.name


def find_record_files(root: Path) -> list[Path]:
    """Every record.json at or below `root`, sorted so that collections are reproducible."""
    if root.is_file():
        return [root] if root.name == RECORD_NAME else []
    return sorted(root.rglob(RECORD_NAME))


def load_record(path: Path, sweep_dir: Path) -> LoadedRecord | RecordProblem:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return RecordProblem(path, f"cannot read: {err}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return RecordProblem(path, f"not valid JSON ({err.msg} at line {err.lineno})")
    if not isinstance(data, dict):
        return RecordProblem(path, f"not a JSON object (found {type(data).__name__})")
    return LoadedRecord(path=path, sweep_dir=sweep_dir, data=data)


def dig(data: Any, dotted: str) -> Any:
    """The value at a dotted path, MISSING when any part of the path is absent."""
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def as_number(value: Any) -> float:
    if value is MISSING or value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def as_text(value: Any) -> Any:
    if value is MISSING:
        return MISSING_TEXT
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def trick_toggles(tricks: Any) -> dict[str, bool]:
    """The on/off switches of a tricks config (other keys, such as a preset's name, left out)."""
    if not isinstance(tricks, dict):
        return {}
    return {name: value for name, value in tricks.items() if isinstance(value, bool)}


def enabled_tricks(tricks: Any) -> str:
    """The tricks that are on, joined with '+' in the record's order; 'none' when all are off."""
    toggles = trick_toggles(tricks)
    if not toggles:
        return MISSING_TEXT
    on = [name for name, value in toggles.items() if value]
    return "+".join(on) if on else "none"


def tricks_state(tricks: Any) -> str:
    """'all' (the paper's strong baseline), 'none' (plain YOLOv3), 'partial' or 'missing'."""
    toggles = trick_toggles(tricks)
    if not toggles:
        return MISSING_TEXT
    flags = list(toggles.values())
    return "all" if all(flags) else "none" if not any(flags) else "partial"


def error_text(error: Any) -> Any:
    if error is MISSING:
        return MISSING_TEXT
    if not error:
        return None
    if not isinstance(error, dict):
        return str(error)
    where = error.get("where")
    text = f"{error.get('type', 'Error')}: {error.get('message', '')}".strip()
    return f"{text} (in {where})" if where else text


def flatten_record(record: LoadedRecord) -> dict[str, Any]:
    """One row: identity, swept axes, config essentials, metrics, cost, speed, provenance."""
    data = record.data
    row: dict[str, Any] = {
        "run_dir": str(record.run_dir),
        "sweep_dir": str(record.sweep_dir),
        "status": as_text(dig(data, "status")),
        "schema_version": as_number(dig(data, "schema_version")),
        "experiment_hash": as_text(dig(data, "experiment_hash")),
        "sweep": as_text(dig(data, "sweep")),
    }
    axes = dig(data, "axes")
    if isinstance(axes, dict):
        for key, value in axes.items():
            row[f"axis.{key}"] = as_text(value) if not isinstance(value, (int, float)) else value
    text_fields = {
        "fusion": "config.fusion.name",
        "upsample": "config.fusion.upsample",
        "rfb": "config.fusion.rfb",
        "dropblock": "config.fusion.dropblock",
        "model": "config.model.name",
        "data": "config.data.name",
        "device": "config.device",
    }
    number_fields = {
        "compress_c": "config.fusion.compress_c",
        "width": "config.model.width",
        "depth": "config.model.depth",
        "num_classes": "config.model.num_classes",
        "img_size": "config.img_size",
        "seed": "config.seed",
        "epochs": "config.train.epochs",
    }
    for column, path in text_fields.items():
        row[column] = as_text(dig(data, path))
    for column, path in number_fields.items():
        row[column] = as_number(dig(data, path))
    tricks = dig(data, "config.tricks")
    if isinstance(tricks, dict):
        for name, value in tricks.items():
            row[f"tricks.{name}"] = as_text(value)
    row["tricks_enabled"] = enabled_tricks(tricks)
    row["tricks_state"] = tricks_state(tricks)

    for key in METRIC_KEYS:
        row[key] = as_number(dig(data, f"metrics.{key}"))
    row["metric"] = as_text(dig(data, "metrics.metric"))
    row["params"] = as_number(dig(data, "bench.params"))
    for part in PARTS:
        row[f"params.{part}"] = as_number(dig(data, f"bench.params_by_part.{part}"))
    row["gmacs"] = as_number(dig(data, "bench.gmacs"))
    gflops = as_number(dig(data, "bench.gflops"))
    # Older records may hold only GMACs; fvcore counts a multiply-add once, so GFLOPs = 2 x GMACs.
    row["gflops"] = gflops if not math.isnan(gflops) else 2.0 * row["gmacs"]
    row["fps"] = as_number(dig(data, "bench.fps"))
    for stage in ("forward", "nms"):
        row[f"latency_{stage}_ms"] = as_number(dig(data, f"bench.latency_ms.{stage}.mean"))
        row[f"latency_{stage}_std_ms"] = as_number(dig(data, f"bench.latency_ms.{stage}.std"))
        row[f"latency_{stage}_median_ms"] = as_number(dig(data, f"bench.latency_ms.{stage}.median"))
    row["fps_median"] = as_number(dig(data, "bench.fps_median"))
    row["nms_candidates_per_image"] = as_number(dig(data, "bench.input.nms_candidates_per_image"))
    row["bench.input"] = as_text(dig(data, "bench.input.kind"))
    for key in ("device", "device_name", "precision", "fused", "channels_last", "compile"):
        row[f"bench.{key}"] = as_text(dig(data, f"bench.{key}"))
    row["bench.batch_size"] = as_number(dig(data, "bench.batch_size"))
    row["bench.img_size"] = as_number(dig(data, "bench.img_size"))
    row["train_seconds"] = as_number(dig(data, "train_seconds"))
    row["error"] = error_text(dig(data, "error"))

    for key in HARDWARE_KEYS:
        value = dig(data, f"hardware.{key}")
        row[f"hardware.{key}"] = as_number(value) if key.endswith("_count") else as_text(value)
    for key in VERSION_KEYS:
        row[f"versions.{key}"] = as_text(dig(data, f"versions.{key}"))
    row["git_commit"] = as_text(dig(data, "versions.git_commit"))
    row["started"] = as_text(dig(data, "started"))
    row["finished"] = as_text(dig(data, "finished"))
    return row


def schema_problem(record: LoadedRecord) -> RecordProblem | None:
    """A readable record written by a newer asffbench: loaded, but say its fields may differ."""
    version = dig(record.data, "schema_version")
    if isinstance(version, (int, float)) and not isinstance(version, bool) and version > SUPPORTED_SCHEMA:
        return RecordProblem(
            record.path,
            f"schema_version {version} is newer than this asffbench reads ({SUPPORTED_SCHEMA}); "
            "loaded as far as its fields are known",
            loaded=True,
        )
    return None

