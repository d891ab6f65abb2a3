"""`asffbench robust RUN`: a run evaluated under every corruption x severity (COCO-C / Pascal-C).

Each cell is an ordinary evaluation with `eval.corruption` and `eval.severity` set, run through
`runs.evaluate.evaluate` with the run's own config, so it writes detections.json, the match table
and, last, metrics.json into `<run>/robust/<name>-<severity>/` (`corruptions.cell_dir`): a cell with
a metrics.json is finished and never evaluated again, so a killed `robust` continues where it
stopped. The clean evaluation is the run's own (evaluated first when the run has none). Before any
evaluation the cost is stated: evaluations x images x seconds per image, measured on the first few
images of the val set with each corruption to be run.

Steps: plan (`missing_evaluations`), weights and model (once per run), cost (`measure_cost`),
evaluations (`evaluate_cells`). The figures are the results layer's (`results.intervals.robustness`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
from omegaconf import DictConfig, open_dict
from torch import nn

from asffbench.corruptions import Corruption, cell_dir
from asffbench.data.corrupt_image import require_corruptions
from asffbench.data.dataset import collate
from asffbench.data.loaders import DataSettings, load_split, val_dataset
from asffbench.device import resolve_device
from asffbench.engine.evaluate_model import eval_dtype
from asffbench.engine.inference import infer
from asffbench.errors import UserError
from asffbench.model_source import eval_config
from asffbench.results.intervals.robustness import evaluation_done
from asffbench.runs.evaluate import evaluate, weights_to_evaluate
from asffbench.runs.lock import hold_run
from asffbench.settings import data_settings, eval_settings
from asffbench.weights.load import build_with_weights
from asffbench.weights.resolve import WeightsSource

MEASURE_IMAGES = 2  # images timed per corruption for the cost statement (after one warm-up image)
CLEAN = "clean"

Say = Callable[[str], None]
Evaluation = Optional[Corruption]  # None: the clean evaluation


def missing_evaluations(run_dir: Path, cells: Sequence[Corruption]) -> list[Evaluation]:
    """What is left to evaluate: the clean evaluation when the run has none, then each cell
    without a finished evaluation, in the order given."""
    todo: list[Evaluation] = [] if evaluation_done(run_dir) else [None]
    return todo + [c for c in cells if not evaluation_done(cell_dir(run_dir, c))]


def cell_config(cfg: DictConfig, corruption: Evaluation) -> DictConfig:
    """The run's config with `eval.corruption` / `eval.severity` set (None: clean)."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.eval.corruption = None if corruption is None else corruption.name
        if corruption is not None:
            cfg.eval.severity = corruption.severity
    return cfg


@dataclass
class Cost:
    """What the evaluations left will take, from seconds per image measured here."""

    evaluations: list[Evaluation]
    images: int
    seconds_per_image: dict[str, float]  # corruption name (or "clean") -> s / image, model included
    measured_on: int

    @property
    def total_seconds(self) -> float:
        return sum(self.images * self.seconds_per_image[label_of(e)] for e in self.evaluations)

    @property
    def mean_seconds_per_image(self) -> float:
        return self.total_seconds / max(1, len(self.evaluations) * self.images)

    def describe(self) -> str:
        return (f"{len(self.evaluations)} evaluations x {self.images} images x "
                f"{self.mean_seconds_per_image:.3g} s/image (measured on {self.measured_on} images per "
                f"corruption) = {format_duration(self.total_seconds)}")


def label_of(evaluation: Evaluation) -> str:
    return CLEAN if evaluation is None else evaluation.name


def format_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def measure_cost(cfg: DictConfig, model: nn.Module, todo: Sequence[Evaluation], images: int = MEASURE_IMAGES,
                 device: Optional[torch.device] = None) -> Cost:
    """Seconds per image of each corruption to run (decode, corrupt, resize) and of the model
    (forward, decoding, NMS), on the first `images` val images after one warm-up image, combined
    as the val loader runs them (`pipelined`)."""
    data, settings = data_settings(cfg), eval_settings(cfg)
    device = device if device is not None else resolve_device(settings.device)
    model.to(device, dtype=eval_dtype(settings.precision, device)).eval()
    source = load_split(data, "val")
    timed = list(range(min(len(source), 1 + images)))
    clean_seconds, clean_items = preparation_seconds(data, source, None, timed)
    model_seconds = inference_seconds(model, clean_items, device, settings.postprocess)
    per_image = {CLEAN: clean_seconds}
    for evaluation in todo:  # one severity per corruption: the cost hardly depends on it
        if evaluation is not None and evaluation.name not in per_image:
            per_image[evaluation.name] = preparation_seconds(data, source, evaluation, timed)[0]
    seconds = {label: pipelined(value, model_seconds, data.workers) for label, value in per_image.items()}
    return Cost(list(todo), len(source), seconds, max(1, len(timed) - 1))


def pipelined(prepare: float, model: float, workers: int) -> float:
    """Seconds per image of the val loader feeding the model: one after the other without loader
    workers; with them, `workers` images are prepared in parallel while the model runs."""
    return prepare + model if workers <= 0 else max(prepare / workers, model)


def preparation_seconds(data: DataSettings, source: object, evaluation: Evaluation,
                        indices: Sequence[int]) -> tuple[float, list]:
    """Mean seconds to prepare one test image with `evaluation`'s corruption, and the items."""
    dataset = val_dataset(replace(data, corruption=evaluation), source)
    items = [dataset[indices[0]]]  # warm-up: first calls compile (glass blur) or fill caches
    started = time.perf_counter()
    items += [dataset[i] for i in indices[1:]]
    return (time.perf_counter() - started) / max(1, len(indices) - 1), items


def inference_seconds(model: nn.Module, items: list, device: torch.device, postprocess: object) -> float:
    """Seconds per image of the model and its post-processing on a batch of `items`."""
    batch = collate(items)
    with torch.inference_mode():
        list(infer(model, [batch], device, postprocess))  # warm-up
        started = time.perf_counter()
        list(infer(model, [batch], device, postprocess))
    return (time.perf_counter() - started) / len(items)


def evaluate_cells(cfg: DictConfig, run_dir: Path, model: nn.Module, weights: Optional[WeightsSource],
                   todo: Sequence[Evaluation], say: Say, device: Optional[torch.device] = None) -> int:
    """Evaluate each of `todo` (each writes its folder, metrics.json last); returns how many."""
    for done, evaluation in enumerate(todo, start=1):
        metrics = evaluate(cell_config(cfg, evaluation), run_dir, model=model, weights=weights, device=device)
        name = "mAP" if metrics.get("metric") == "voc" else "AP"
        value = metrics.get(name)
        shown = "n/a" if value is None else f"{100 * value:.2f}"
        say(f"  [{done}/{len(todo)}] {run_dir.name} {CLEAN if evaluation is None else evaluation.cell}: {name} {shown}")
    return len(todo)


def robust_with_model(cfg: DictConfig, run_dir: Path, model: nn.Module, weights: Optional[WeightsSource],
                      cells: Sequence[Corruption], say: Say, device: Optional[torch.device] = None) -> int:
    """The evaluations `cells` still need in `run_dir`, with a model at hand (the run stage, or
    the command once it has built it) on `device` (default: the config's); the caller holds the
    run. Returns how many it ran."""
    todo = missing_evaluations(run_dir, cells)
    if not todo:
        say(f"{run_dir}: all {len(cells)} corrupted evaluations stored")
        return 0
    require_corruptions("robust")
    cost = measure_cost(cfg, model, todo, device=device)
    say(f"{run_dir}: {len(cells) - sum(e is not None for e in todo)} of {len(cells)} cells stored; "
        f"cost: {cost.describe()}")
    return evaluate_cells(cfg, run_dir, model, weights, todo, say, device)


def robust_run(run_dir: Path, cells: Sequence[Corruption], say: Say) -> int:
    """`asffbench robust RUN`: the run's own config and weights (as `eval run_dir=RUN`), held for
    the duration; the evaluations left are run. Returns how many it ran."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such run directory")
    cfg = eval_config([f"run_dir={run_dir}"])
    require_corruptions("asffbench robust")
    with hold_run(run_dir):
        return robust_for_config(cfg, run_dir, cells, say)


def robust_for_config(cfg: DictConfig, run_dir: Path, cells: Sequence[Corruption], say: Say) -> int:
    """With `run_dir` held: its weights (`eval`'s choice: its last.pt) built into the model when
    evaluations are missing, then those evaluations. Returns how many it ran."""
    if not missing_evaluations(run_dir, cells):
        say(f"{run_dir}: all {len(cells)} corrupted evaluations stored")
        return 0
    weights = weights_to_evaluate(cfg, run_dir)
    model = build_with_weights(cfg, weights)
    return robust_with_model(cfg, run_dir, model, weights, cells, say)
