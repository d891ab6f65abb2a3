"""What `sweep NAME --estimate` feeds the arithmetic of `runs/estimate.py`, read from each run's config.

- `run_work(name, cfg, devices)`: images per epoch (the train split's size, capped by
  `train.max_iters_per_epoch`), epochs, val images, evaluations, benchmarked images;
- `ThroughputSource`: one training throughput per distinct setting (model, fusion, tricks,
  image size, batch, precision), measured here by `bench --mode train` once per setting, or read
  from saved `bench --mode train --json` results (`--throughput FILE`) taken on the target device.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from omegaconf import DictConfig, open_dict

from asffbench.runs.benchmark import benchmark
from asffbench.config.schema import choice_str
from asffbench.config.compose import to_plain
from asffbench.data.loaders import load_split
from asffbench.device import device_kind_of
from asffbench.errors import UserError
from asffbench.runs.estimate import RunWork, Throughput
from asffbench.settings import bench_batch_size, data_settings

# The short protocol a throughput is measured with: a training step's time varies little.
MEASURE_PROTOCOL = {"warmup": 1, "iters": 3, "repeats": 1}


def run_work(name: str, cfg: DictConfig, devices: int, counts: dict[str, Optional[int]]) -> RunWork:
    """What the run does; `counts` ({"train": n, "val": n}, None to count the split) stands in
    for a dataset that is not on this machine."""
    batch, epochs = int(cfg.train.batch_size), int(cfg.train.epochs)
    train_images = split_images(cfg, "train", counts) if epochs > 0 else 0
    if cfg.train.get("max_iters_per_epoch"):
        train_images = min(train_images, int(cfg.train.max_iters_per_epoch) * batch * devices)
    evaluations = 0
    if cfg.eval.enabled:
        every = int(cfg.train.get("eval_every") or 0)
        evaluations = 1 + ((epochs - 1) // every if every > 0 and epochs > 1 else 0)
    val_images = split_images(cfg, "val", counts) if evaluations else 0
    bench = cfg.bench
    given, _source = bench_batch_size(cfg, choice_str(bench.mode))
    bench_batch = batch if str(bench.batch_size) == "max" else given
    bench_images = (int(bench.warmup) + int(bench.iters) * int(bench.repeats)) * bench_batch
    return RunWork(run=name, train_images=train_images, epochs=epochs, val_images=val_images,
                   evaluations=evaluations, bench_images=bench_images)


def split_images(cfg: DictConfig, split: str, counts: dict[str, Optional[int]]) -> int:
    given = counts.get(split)
    return int(given) if given is not None else len(load_split(data_settings(cfg), split))


def training_precision(cfg: DictConfig, device_type: str) -> str:
    """What training runs in: fp16 autocast with train.amp on CUDA, fp32 otherwise."""
    return "fp16" if bool(cfg.train.amp) and device_type == "cuda" else "fp32"


def setting_key(cfg: DictConfig) -> str:
    """Runs that differ only in seed, schedule or evaluation share one throughput."""
    plain = to_plain(cfg)
    return json.dumps({"model": plain["model"], "fusion": plain["fusion"], "tricks": plain["tricks"],
                       "img_size": plain["img_size"], "batch": plain["train"]["batch_size"],
                       "amp": plain["train"]["amp"], "device": plain["device"]}, sort_keys=True, default=str)


def throughput_of_result(result: dict, source: str) -> Throughput:
    """A `bench --mode train` result as a Throughput."""
    if result.get("mode") != "train" or not result.get("images_per_s"):
        raise UserError(f"{source}: not a `bench --mode train --json` result (mode train, images_per_s)")
    forward_ms = float(((result.get("phases_ms") or {}).get("forward") or {}).get("mean", 0.0))
    return Throughput(train_images_per_s=float(result["images_per_s"]),
                      forward_s_per_image=forward_ms / 1000 / max(int(result.get("batch_size") or 1), 1),
                      source=source)


def read_throughput_file(path: Path) -> list[dict]:
    """The results of a saved `bench --mode train --json` file: one object, a list, or JSON lines."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise UserError(f"{path}: cannot read the throughput file ({err.strerror or err})") from None
    try:
        data = json.loads(text)
        results = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        try:
            results = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as err:
            raise UserError(f"{path}: not JSON ({err})") from None
    if not results or not all(isinstance(r, dict) for r in results):
        raise UserError(f"{path}: expected `bench --mode train --json` results (JSON objects)")
    for result in results:
        throughput_of_result(result, str(path))  # each must be a train result
    return results


@dataclass
class ThroughputSource:
    """Throughputs by setting: from files when given, else measured here once per setting."""

    files: Sequence[Path] = ()
    measured: dict[str, Throughput] = field(default_factory=dict)
    results: list[tuple[dict, str]] = field(default_factory=list)  # (result, file)

    def __post_init__(self) -> None:
        self.results = [(r, str(path)) for path in self.files for r in read_throughput_file(path)]

    def throughput(self, name: str, cfg: DictConfig) -> Throughput:
        if self.results:
            return self.from_files(name, cfg)
        key = setting_key(cfg)
        if key not in self.measured:
            self.measured[key] = measure(cfg)
        return self.measured[key]

    def from_files(self, name: str, cfg: DictConfig) -> Throughput:
        """The saved result of the run's fusion, model, image size and batch (its training
        precision preferred: fp16 with train.amp, since files come from the CUDA target)."""
        wanted = (str(cfg.fusion.name), str(cfg.model.name), int(cfg.img_size), int(cfg.train.batch_size))
        fitting = [(r, f) for r, f in self.results
                   if (str(r.get("fusion")), str(r.get("model")), int(r.get("img_size") or 0),
                       int(r.get("batch_size") or 0)) == wanted]
        if not fitting:
            have = sorted({f"fusion={r.get('fusion')} model={r.get('model')} img_size={r.get('img_size')} "
                           f"batch={r.get('batch_size')}" for r, _ in self.results})
            raise UserError(f"run {name}: no --throughput result for fusion={wanted[0]} model={wanted[1]} "
                            f"img_size={wanted[2]} batch={wanted[3]} (the files have: {'; '.join(have)})")
        precision = training_precision(cfg, "cuda")
        result, path = next(((r, f) for r, f in fitting if r.get("precision") == precision), fitting[0])
        return throughput_of_result(result, path)


def measure(cfg: DictConfig) -> Throughput:
    """`bench --mode train` at the run's batch and training precision, short protocol."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.bench.mode = "train"
        cfg.bench.batch_size = int(cfg.train.batch_size)
        cfg.bench.compile = False
        cfg.bench.channels_last = False
        for key, value in MEASURE_PROTOCOL.items():
            cfg.bench[key] = value
        cfg.bench.precision = training_precision(cfg, device_kind_of(cfg.device))
    result = benchmark(cfg)
    throughput = throughput_of_result(result, "measured")
    return Throughput(throughput.train_images_per_s, throughput.forward_s_per_image,
                      f"measured on {result.get('device_name') or result.get('device')}")


def devices_per_job(hydra_overrides: Sequence[str]) -> int:
    """Devices one SLURM job trains on: hydra.launcher.tasks_per_node x nodes (1 each by default)."""
    values: dict[str, Any] = {"tasks_per_node": 1, "nodes": 1}
    for text in hydra_overrides:
        key, _, value = text.partition("=")
        short = key.removeprefix("hydra.launcher.")
        if short in values:
            try:
                values[short] = int(value)
            except ValueError:
                raise UserError(f"override '{text}': expected a whole number") from None
    return max(1, values["tasks_per_node"] * values["nodes"])
