"""Find and read run records (`record.json`) and flatten each into one table row.

Records come from other asffbench versions too, so every field may be absent: a missing field
becomes NaN (numbers) or the text ``missing`` (everything else), never an error. A record that is
not readable JSON at all, or whose schema_version no asffbench wrote, is reported as a problem
with its path instead of stopping the caller.

The row is the table `COLUMNS`: a column name and the accessor of its field in the typed record
(`asffbench.record_types`), so a renamed field fails loudly instead of reading as NaN.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from asffbench.errors import UserError
from asffbench.record_schema import RECORD_NAME, SCHEMA_VERSION, run_name
from asffbench.results.reference import DEFAULT_BACKBONE

DEFAULT_FAMILY = "yolov3"
from asffbench.record_types import (
    MISSING,
    BenchInput,
    BenchRun,
    Hardware,
    InferBench,
    Metrics,
    PartCounts,
    RunRecord,
    Section,
    Stats,
    Versions,
    is_newer_schema,
    part,
    record_from_json,
)

SUPPORTED_SCHEMA = SCHEMA_VERSION  # the newest record schema this version reads
MISSING_TEXT = "missing"


@dataclass(frozen=True)
class RecordProblem:
    path: Path
    reason: str
    loaded: bool = False  # True: the record was still read (a warning, not an unreadable record)


@dataclass(frozen=True)
class LoadedRecord:
    path: Path  # the record.json file
    sweep_dir: Path  # the directory it was found under (as given by the user)
    record: RunRecord

    @property
    def run_dir(self) -> Path:
        return self.path.parent


def run_label(record: LoadedRecord) -> str:
    """How a run is named in reports: its swept axes (as its sweep names its folder), else its
    directory name."""
    axes = record.record.axes
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
    try:
        record = record_from_json(data, path)
    except UserError as err:
        return RecordProblem(path, str(err).removeprefix(f"{path}: "))
    return LoadedRecord(path=path, sweep_dir=sweep_dir, record=record)


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


def as_axis(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else as_text(value)


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
    """A run error as one line; `error` is the record's RunError (or what an odd record holds)."""
    if error is MISSING:
        return MISSING_TEXT
    if not error:
        return None
    if not isinstance(error, Section):
        return str(error)
    kind = error.type if isinstance(error.type, str) else "Error"
    message = error.message if error.message is not MISSING else ""
    text = f"{kind}: {message}".strip()
    return f"{text} (in {error.where})" if error.where else text


# --- the column table ---------------------------------------------------------------------------
def bench(record: RunRecord) -> InferBench:
    return part(record.bench, InferBench)


def bench_run(record: RunRecord) -> BenchRun:
    """The fields both bench modes state."""
    return part(record.bench, BenchRun)


def latency(record: RunRecord, stage: str) -> Stats:
    stages = bench(record).latency_ms
    return part(stages.get(stage) if isinstance(stages, dict) else None, Stats)


def gflops(record: RunRecord) -> float:
    # Older records may hold only GMACs; fvcore counts a multiply-add once, so GFLOPs = 2 x GMACs.
    value = as_number(bench(record).gflops)
    return value if not math.isnan(value) else 2.0 * as_number(bench(record).gmacs)


def device_hours(record: RunRecord) -> float:
    """The device time the run cost (`device_seconds`, every attempt), in hours; NaN when unrecorded."""
    return as_number(record.device_seconds) / 3600


def config(key: str) -> Callable[[RunRecord], Any]:
    """A config key of the record (config/schema.py names them; a test checks each exists)."""
    return lambda record: record.config_value(key)


@dataclass(frozen=True)
class Column:
    name: str
    get: Callable[[RunRecord], Any]  # the field
    convert: Callable[[Any], Any] = as_text  # as_text | as_number | ...

    def value(self, record: RunRecord) -> Any:
        return self.convert(self.get(record))


def text(name: str, get: Callable[[RunRecord], Any]) -> Column:
    return Column(name, get, as_text)


def number(name: str, get: Callable[[RunRecord], Any]) -> Column:
    return Column(name, get, as_number)


def backbone_of(record: RunRecord) -> Any:
    """`model.backbone`; records written before the key existed are Darknet-53 runs."""
    value = record.config_value("model.backbone")
    return DEFAULT_BACKBONE if value is MISSING else value


def family_of(record: RunRecord) -> str:
    """The record's model family; records written before the key existed are YOLOv3 runs."""
    return DEFAULT_FAMILY if record.family is MISSING or record.family is None else record.family


def same(value: Any) -> Any:
    return value


def metric_column(name: str) -> Column:
    return number(name, lambda r: getattr(part(r.metrics, Metrics), name))


def stage_columns(stage: str) -> list[Column]:
    return [number(f"latency_{stage}_ms", lambda r: latency(r, stage).mean),
            number(f"latency_{stage}_std_ms", lambda r: latency(r, stage).std),
            number(f"latency_{stage}_median_ms", lambda r: latency(r, stage).median)]


HEAD_COLUMNS = (
    text("status", lambda r: r.status),
    number("schema_version", lambda r: r.schema_version),
    text("experiment_hash", lambda r: r.experiment_hash),
    text("sweep", lambda r: r.sweep),
)
CONFIG_COLUMNS = (
    text("fusion", config("fusion.name")),
    text("upsample", config("fusion.upsample")),
    text("rfb", config("fusion.rfb")),
    text("dropblock", config("fusion.dropblock")),
    text("model", config("model.name")),
    text("family", family_of),
    text("backbone", backbone_of),
    text("data", config("data.name")),
    text("device", config("device")),
    number("compress_c", config("fusion.compress_c")),
    number("width", config("model.width")),
    number("depth", config("model.depth")),
    number("num_classes", config("model.num_classes")),
    number("img_size", config("img_size")),
    number("seed", config("seed")),
    number("epochs", config("train.epochs")),
)
TRICKS_COLUMNS = (
    Column("tricks_enabled", config("tricks"), enabled_tricks),
    Column("tricks_state", config("tricks"), tricks_state),
)
# The metrics' own names: COCO's, then VOC's (area, 11-point) in records of eval.metric=voc.
METRIC_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
               "mAP", "mAP07")
VALUE_COLUMNS = (
    *(metric_column(key) for key in METRIC_KEYS),
    text("metric", lambda r: part(r.metrics, Metrics).metric),
    Column("ap_computed", lambda r: part(r.metrics, Metrics).scored, same),  # False: a test split's evaluation
    number("params", lambda r: bench_run(r).params),
    number("params.backbone", lambda r: part(bench(r).params_by_part, PartCounts).backbone),
    number("params.neck", lambda r: part(bench(r).params_by_part, PartCounts).neck),
    number("params.fusion", lambda r: part(bench(r).params_by_part, PartCounts).fusion),
    number("params.head", lambda r: part(bench(r).params_by_part, PartCounts).head),
    number("gmacs", lambda r: bench(r).gmacs),
    Column("gflops", gflops, same),
    number("fps", lambda r: bench(r).fps),
    *stage_columns("forward"),
    *stage_columns("nms"),
    number("fps_median", lambda r: bench(r).fps_median),
    number("nms_candidates_per_image", lambda r: part(bench(r).input, BenchInput).nms_candidates_per_image),
    text("bench.input", lambda r: part(bench(r).input, BenchInput).kind),
    text("bench.device", lambda r: bench_run(r).device),
    text("bench.device_name", lambda r: bench_run(r).device_name),
    text("bench.precision", lambda r: bench_run(r).precision),
    text("bench.fused", lambda r: bench(r).fused),
    text("bench.channels_last", lambda r: bench_run(r).channels_last),
    text("bench.compile", lambda r: bench_run(r).compile),
    number("bench.batch_size", lambda r: bench_run(r).batch_size),
    number("bench.img_size", lambda r: bench_run(r).img_size),
    number("train_seconds", lambda r: r.train_seconds),
    number("device_hours", device_hours),
    Column("error", lambda r: r.error, error_text),
    text("hardware.cpu", lambda r: part(r.hardware, Hardware).cpu),
    number("hardware.cpu_count", lambda r: part(r.hardware, Hardware).cpu_count),
    text("hardware.gpu", lambda r: part(r.hardware, Hardware).gpu),
    number("hardware.gpu_count", lambda r: part(r.hardware, Hardware).gpu_count),
    text("hardware.host", lambda r: part(r.hardware, Hardware).host),
    text("versions.python", lambda r: part(r.versions, Versions).python),
    text("versions.torch", lambda r: part(r.versions, Versions).torch),
    text("versions.torchvision", lambda r: part(r.versions, Versions).torchvision),
    text("versions.cuda", lambda r: part(r.versions, Versions).cuda),
    text("versions.asffbench", lambda r: part(r.versions, Versions).asffbench),
    text("git_commit", lambda r: part(r.versions, Versions).git_commit),
    text("started", lambda r: r.started),
    text("finished", lambda r: r.finished),
)
COLUMNS = (*HEAD_COLUMNS, *CONFIG_COLUMNS, *TRICKS_COLUMNS, *VALUE_COLUMNS)


def flatten_record(loaded: LoadedRecord) -> dict[str, Any]:
    """One row: identity, swept axes, config essentials, metrics, cost, speed, provenance.

    `COLUMNS` in order, plus a column per swept axis (`axis.<key>`) and per trick
    (`tricks.<name>`), whose names come from the record itself.
    """
    record = loaded.record
    row: dict[str, Any] = {"run_dir": str(loaded.run_dir), "sweep_dir": str(loaded.sweep_dir)}
    row.update((c.name, c.value(record)) for c in HEAD_COLUMNS)
    if isinstance(record.axes, dict):
        row.update((f"axis.{key}", as_axis(value)) for key, value in record.axes.items())
    row.update((c.name, c.value(record)) for c in CONFIG_COLUMNS)
    tricks = record.config_value("tricks")
    if isinstance(tricks, dict):
        row.update((f"tricks.{name}", as_text(value)) for name, value in tricks.items())
    row.update((c.name, c.value(record)) for c in (*TRICKS_COLUMNS, *VALUE_COLUMNS))
    return row


def schema_problem(loaded: LoadedRecord) -> RecordProblem | None:
    """A readable record written by a newer asffbench: loaded, but say its fields may differ."""
    version = loaded.record.schema_version
    if is_newer_schema({"schema_version": version}):
        return RecordProblem(
            loaded.path,
            f"schema_version {version} is newer than this asffbench reads ({SUPPORTED_SCHEMA}); "
            "loaded as far as its fields are known",
            loaded=True,
        )
    return None
