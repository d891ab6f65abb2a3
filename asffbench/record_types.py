"""The run record (`record.json`) and its sections as dataclasses: runs/ builds them, results/ reads them.

Torch-free and hydra-free (stdlib only): the results layer imports it without torch.

Records come from other asffbench versions too, so the reading is deliberate about keys:
- a key the file lacks reads as `MISSING` (not None: a present null stays None), and `to_dict`
  leaves it out again, so a record round-trips to the same JSON object;
- a key this version does not know is kept, as found, in the section's `extra` and written back
  by `to_dict` (a record from a newer version loses nothing when rewritten);
- a section of the wrong shape (a list where an object belongs) is kept in the parent's `extra`
  and reads as `MISSING`.
Values are kept as found (no coercion): a reader converts, e.g. `as_number` in results/records.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Optional, TypeVar, Union

from asffbench.errors import UserError
from asffbench.record_schema import SCHEMA_VERSION


class Missing:
    """A key absent from the record (as opposed to present and null)."""

    _instance: ClassVar[Optional["Missing"]] = None

    def __new__(cls) -> "Missing":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"  # one instance across pickling (sweep jobs return records from subprocesses)


MISSING = Missing()
S = TypeVar("S", bound="Section")


def absent() -> Any:
    """A dataclass field that reads MISSING until the record says otherwise."""
    return field(default=MISSING)


@dataclass
class Section:
    """A JSON object of the record. Subclasses declare the known keys as fields."""

    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know
    # The keys in the order the file held them, so `to_dict` writes a read record back as it was.
    key_order: tuple[str, ...] = field(default=(), repr=False, compare=False)
    # Fields that hold a nested section: field name -> reader of its JSON object.
    NESTED: ClassVar[Mapping[str, Callable[[Mapping[str, Any]], "Section"]]] = {}
    # Fields that hold {name: section}: field name -> reader of each value.
    NESTED_MAPS: ClassVar[Mapping[str, Callable[[Mapping[str, Any]], "Section"]]] = {}

    @classmethod
    def from_dict(cls: type[S], data: Mapping[str, Any]) -> S:
        known = {f.name for f in fields(cls)} - {"extra", "key_order"}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                extra[key] = value
            elif key in cls.NESTED and value is not None:
                if isinstance(value, Mapping):
                    values[key] = cls.NESTED[key](value)
                else:
                    extra[key] = value  # wrong shape: kept, reads as MISSING
            elif key in cls.NESTED_MAPS and value is not None:
                if isinstance(value, Mapping) and all(isinstance(v, Mapping) for v in value.values()):
                    values[key] = {name: cls.NESTED_MAPS[key](v) for name, v in value.items()}
                else:
                    extra[key] = value
            else:
                values[key] = value
        return cls(**values, extra=extra, key_order=tuple(data))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: known fields in declaration order (absent ones left out), then the
        unknown keys; a record that was read keeps the order of its file."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("extra", "key_order") or value is MISSING:
                continue
            out[f.name] = to_json(value)
        out.update(self.extra)
        ordered = {key: out.pop(key) for key in self.key_order if key in out}
        return {**ordered, **out}


def part(value: Any, kind: type[S]) -> S:
    """A section of the record, or an empty one (every field MISSING) when it is absent, null or
    of another kind (a train-mode bench result has no latency): readers chain fields safely."""
    return value if isinstance(value, kind) else kind()


def or_none(value: Any) -> Any:
    """A field with an absent value read as None (for text that does not tell the two apart)."""
    return None if value is MISSING else value


def unknown_keys(section: Section, prefix: str = "") -> list[str]:
    """The dotted names of every key this version does not know, in the section and below (a
    writer that adds a key without a field here shows up: the tests ask for none)."""
    found = [f"{prefix}{key}" for key in section.extra]
    for f in fields(section):
        value = getattr(section, f.name)
        nested = value.items() if isinstance(value, dict) else [("", value)]
        for name, item in nested:
            if isinstance(item, Section):
                found += unknown_keys(item, f"{prefix}{f.name}.{name + '.' if name else ''}")
    return found


def to_json(value: Any) -> Any:
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, dict):
        return {key: to_json(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


@dataclass
class Versions(Section):
    """`environment.software_versions()`."""

    python: Optional[str] = absent()
    torch: Optional[str] = absent()
    torchvision: Optional[str] = absent()
    cuda: Optional[str] = absent()
    cudnn: Optional[str] = absent()
    asffbench: Optional[str] = absent()
    git_commit: Optional[str] = absent()


@dataclass
class Hardware(Section):
    """`environment.hardware_info()`."""

    cpu: Optional[str] = absent()
    cpu_count: Optional[int] = absent()
    torch_threads: Optional[int] = absent()
    gpu: Optional[str] = absent()
    gpu_count: Optional[int] = absent()
    host: Optional[str] = absent()


@dataclass
class PeakMemory(Section):
    """`memory.PeakMemory.result()`: CUDA allocator peaks, or the CPU process's resident set."""

    device: Optional[str] = absent()
    allocated_mib: Optional[float] = absent()
    reserved_mib: Optional[float] = absent()
    rss_growth_mib: Optional[float] = absent()
    rss_peak_mib: Optional[float] = absent()
    method: Optional[str] = absent()


@dataclass
class RuntimeInfo(Section):
    """What ran the forward pass (`bench.runtime`, `eval.runtime`)."""

    runtime: Optional[str] = absent()  # "torch" | "onnxruntime"; records before bench.runtime lack it
    runtime_version: Optional[str] = absent()
    execution_provider: Optional[str] = absent()  # the torch device, or ONNX Runtime's provider
    execution_providers: Optional[list] = absent()  # ONNX Runtime's: the first, then its fallbacks
    graph_optimization: Optional[str] = absent()  # ONNX Runtime's level; None for torch
    threads: Optional[int] = absent()
    opset: Optional[int] = absent()
    export_seconds: Optional[float] = absent()


@dataclass
class Metrics(Section):
    """What `runs.evaluate.evaluate` (`engine.evaluate.evaluate_model`) returns: COCO metrics (fractions), VOC ones with eval.metric=voc."""

    metric: Optional[str] = absent()  # "coco" | "voc"
    AP: Optional[float] = absent()
    AP50: Optional[float] = absent()
    AP75: Optional[float] = absent()
    APs: Optional[float] = absent()
    APm: Optional[float] = absent()
    APl: Optional[float] = absent()
    AR1: Optional[float] = absent()
    AR10: Optional[float] = absent()
    AR100: Optional[float] = absent()
    ARs: Optional[float] = absent()
    ARm: Optional[float] = absent()
    ARl: Optional[float] = absent()
    per_class: dict[str, Optional[float]] = absent()
    mAP: Optional[float] = absent()  # VOC2010+ (area)
    mAP07: Optional[float] = absent()  # VOC2007 (11-point)
    per_class_voc: dict[str, dict[str, Optional[float]]] = absent()
    conventions: dict[str, str] = absent()
    num_images: Optional[int] = absent()
    num_detections: Optional[int] = absent()
    backend: Optional[str] = absent()
    eval_seconds: Optional[float] = absent()
    checkpoint: Optional[str] = absent()
    ground_truth: Optional[str] = absent()
    fusion_weights: Optional[dict[str, Any]] = absent()  # DESIGN.md "Run directory and records"
    edge_weights: Optional[dict[str, Any]] = absent()  # BiFPN's normalised input-edge weights, likewise
    runtime: RuntimeInfo = absent()  # eval.runtime; records before it lack it (eager PyTorch)
    # A test split (image info without annotations): `annotated` False, every metric None, why in
    # `no_ap_reason`, the detections in the evaluation server's results file and its zip.
    # Absent (every record before them, and every annotated split): scored as usual.
    annotated: Optional[bool] = absent()
    no_ap_reason: Optional[str] = absent()
    server_results: Optional[str] = absent()
    server_zip: Optional[str] = absent()

    NESTED: ClassVar[Mapping[str, Callable]] = {"runtime": RuntimeInfo.from_dict}

    @property
    def scored(self) -> bool:
        """False when the evaluation computed no AP (a test split: `annotated` False)."""
        return self.annotated is not False


@dataclass
class Stats(Section):
    """`bench.stats.summarize`: one timed quantity over the timed iterations (milliseconds)."""

    mean: Optional[float] = absent()
    std: Optional[float] = absent()
    median: Optional[float] = absent()
    p90: Optional[float] = absent()
    p99: Optional[float] = absent()
    min: Optional[float] = absent()
    iqr: Optional[float] = absent()
    outlier_share: Optional[float] = absent()


@dataclass
class PartCounts(Section):
    """A count per model part (parameters, GMACs)."""

    backbone: Optional[float] = absent()
    neck: Optional[float] = absent()
    fusion: Optional[float] = absent()
    head: Optional[float] = absent()


@dataclass
class BenchInput(Section):
    """What an inference benchmark timed."""

    kind: Optional[str] = absent()  # "val" | "random"
    description: Optional[str] = absent()
    images: Optional[int] = absent()
    model_has_weights: Optional[bool] = absent()
    nms_candidates_per_image: Optional[float] = absent()


@dataclass
class BenchProtocol(Section):
    """How a benchmark was timed (both modes; each states the keys that apply to it)."""

    warmup: Optional[int] = absent()
    iters: Optional[int] = absent()
    repeats: Optional[int] = absent()
    batch_size: Optional[int] = absent()
    precision: Optional[str] = absent()
    fused: Optional[bool] = absent()
    img_size: Optional[int] = absent()
    device: Optional[str] = absent()
    synchronized: Optional[bool] = absent()
    nms_included: Optional[bool] = absent()
    input: Optional[str] = absent()
    channels_last: Optional[bool] = absent()
    compile: Optional[str] = absent()
    cudnn_benchmark: Optional[bool] = absent()
    oom_fallbacks: Optional[int] = absent()
    batch_size_requested: Union[int, str, None] = absent()  # "max" with bench.batch_size=max
    batch_size_from: Optional[str] = absent()  # bench.batch_size, train.batch_size (train mode) or default
    timed_iterations: Optional[int] = absent()
    torch_threads: Optional[int] = absent()


@dataclass
class LoaderSpeed(Section):
    """The train loader's own speed, beside a timed training step."""

    images_per_s: Optional[float] = absent()
    workers: Optional[int] = absent()
    batches_prepared: Optional[int] = absent()


@dataclass
class BenchRun(Section):
    """What a result of either bench mode states about the timed run (`bench.runner.run_fields`)."""

    mode: Optional[str] = absent()  # "infer" | "train"; records older than bench.mode lack it
    fusion: Optional[str] = absent()
    model: Optional[str] = absent()
    deform_conv: Optional[str] = absent()  # "torchvision" | "sampled"; None without guided anchoring
    params: Optional[int] = absent()
    img_size: Optional[int] = absent()
    batch_size: Optional[int] = absent()
    device: Optional[str] = absent()
    device_name: Optional[str] = absent()
    precision: Optional[str] = absent()
    channels_last: Optional[bool] = absent()
    compile: Optional[str] = absent()
    cudnn_benchmark: Optional[bool] = absent()
    memory: PeakMemory = absent()
    protocol: BenchProtocol = absent()
    torch: Optional[str] = absent()
    versions: Versions = absent()

    NESTED: ClassVar[Mapping[str, Callable]] = {
        "memory": PeakMemory.from_dict, "protocol": BenchProtocol.from_dict, "versions": Versions.from_dict}


@dataclass
class InferBench(BenchRun):
    """`bench.mode=infer`: params, FLOPs and inference speed."""

    params_by_part: PartCounts = absent()
    gmacs: Optional[float] = absent()
    gflops: Optional[float] = absent()
    gmacs_by_part: PartCounts = absent()
    flops_convention: Optional[str] = absent()
    fused: Optional[bool] = absent()
    fused_conv_bn_pairs: Optional[int] = absent()
    compile_seconds: Optional[float] = absent()
    runtime: RuntimeInfo = absent()
    latency_ms: dict[str, Stats] = absent()  # "forward" | "nms" | "total"
    fps: Optional[float] = absent()
    fps_median: Optional[float] = absent()
    input: BenchInput = absent()
    uncounted_ops: list[str] = absent()

    NESTED: ClassVar[Mapping[str, Callable]] = {
        **BenchRun.NESTED, "params_by_part": PartCounts.from_dict, "gmacs_by_part": PartCounts.from_dict,
        "input": BenchInput.from_dict, "runtime": RuntimeInfo.from_dict}
    NESTED_MAPS: ClassVar[Mapping[str, Callable]] = {"latency_ms": Stats.from_dict}


@dataclass
class TrainBench(BenchRun):
    """`bench.mode=train`: one training step timed phase by phase."""

    amp_scaler: Optional[bool] = absent()
    step_ms: Stats = absent()
    phases_ms: dict[str, Stats] = absent()
    images_per_s: Optional[float] = absent()
    images_per_s_median: Optional[float] = absent()
    loader: LoaderSpeed = absent()

    NESTED: ClassVar[Mapping[str, Callable]] = {
        **BenchRun.NESTED, "step_ms": Stats.from_dict, "loader": LoaderSpeed.from_dict}
    NESTED_MAPS: ClassVar[Mapping[str, Callable]] = {"phases_ms": Stats.from_dict}


def bench_from_dict(data: Mapping[str, Any]) -> Union[InferBench, TrainBench]:
    """A bench result by its `mode` (records from before bench.mode are inference results)."""
    return TrainBench.from_dict(data) if data.get("mode") == "train" else InferBench.from_dict(data)


@dataclass
class RunError(Section):
    """Why a run failed (`runs.run.describe_error`)."""

    type: Optional[str] = absent()
    message: Optional[str] = absent()
    where: Optional[str] = absent()  # the stage: "train" | "build" | "eval" | "bench"
    traceback: Optional[str] = absent()


@dataclass
class Attempt(Section):
    """Which attempt of a sweep job wrote the record (runs/resume.py)."""

    id: Optional[str] = absent()
    action: Optional[str] = absent()  # "fresh" | "resume" | "skip"
    reason: Optional[str] = absent()


@dataclass
class RunRecord(Section):
    """`record.json` (DESIGN.md "Run directory and records")."""

    schema_version: Optional[int] = absent()
    status: Optional[str] = absent()  # record_schema.STATUSES
    experiment_hash: Optional[str] = absent()
    sweep: Optional[str] = absent()
    axes: dict[str, Any] = absent()  # swept override keys -> values
    # The model family (`BackboneInfo.family`: yolov3, yolov8); absent in records written before
    # the YOLOv8 family existed, which are all YOLOv3 runs.
    family: Optional[str] = absent()
    # The composed config as plain data: its keys are config/schema.py's, typed there; records
    # of older versions hold older configs, so it stays a mapping here (read with `config_value`).
    config: dict[str, Any] = absent()
    metrics: Optional[Metrics] = absent()
    bench: Union[InferBench, TrainBench, None] = absent()
    train_seconds: Optional[float] = absent()  # all attempts (earlier ones up to their last checkpoint)
    train_seconds_attempt: Optional[float] = absent()  # this attempt alone
    devices: Optional[int] = absent()  # processes of the launch, one device each
    # Wall seconds x devices: every attempt's training (up to its last checkpoint) and this
    # attempt's other stages (evaluation, benchmark); `sweep --estimate` predicts it.
    device_seconds: Optional[float] = absent()
    hardware: Hardware = absent()
    versions: Versions = absent()
    started: Optional[str] = absent()  # ISO-8601
    finished: Optional[str] = absent()
    error: Optional[RunError] = absent()
    train_peak_memory: Optional[PeakMemory] = absent()  # the largest per-epoch peak (trained runs)
    attempt: Attempt = absent()  # sweep jobs only

    NESTED: ClassVar[Mapping[str, Callable]] = {
        "metrics": Metrics.from_dict, "bench": bench_from_dict, "hardware": Hardware.from_dict,
        "versions": Versions.from_dict, "error": RunError.from_dict,
        "train_peak_memory": PeakMemory.from_dict, "attempt": Attempt.from_dict}

    def config_value(self, dotted: str) -> Any:
        """A config key by its dotted name (`fusion.name`), MISSING when any part is absent."""
        node: Any = self.config
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return MISSING
            node = node[part]
        return node


def schema_version_problem(data: Mapping[str, Any]) -> Optional[str]:
    """Why a record's schema_version cannot be read by this version, or None when it can.

    Absent: a record from before versioning (read with its gaps). 1..SCHEMA_VERSION: read. A
    larger integer: a newer asffbench wrote it (the caller decides: results/ reads it as far as
    its fields are known). Anything else is refused.
    """
    version = data.get("schema_version", MISSING)
    if version is MISSING:
        return None
    if isinstance(version, int) and not isinstance(version, bool) and version >= 1:
        return None
    return f"schema_version {json.dumps(version)} is not a record schema this asffbench knows (1..{SCHEMA_VERSION})"


def is_newer_schema(data: Mapping[str, Any]) -> bool:
    version = data.get("schema_version")
    return isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION


def record_from_json(data: Any, path: Path) -> RunRecord:
    """The record of a parsed record.json; UserError (one line naming the file) when it is not one."""
    if not isinstance(data, Mapping):
        raise UserError(f"{path}: not a JSON object (found {type(data).__name__})")
    problem = schema_version_problem(data)
    if problem is not None:
        raise UserError(f"{path}: {problem}")
    return RunRecord.from_dict(data)
