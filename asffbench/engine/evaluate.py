"""`evaluate_model(settings, data, run_dir, model) -> metrics`: COCO bbox AP of a model (the config
is read, and the weights chosen, by `asffbench.runs.evaluate.evaluate(cfg, ...)`).

Batched inference on the val loader, decoding + class-wise NMS (`postprocess`), boxes mapped
back to original image pixels, labels to category ids, `detections.json` (COCO results) and
`metrics.json` in the run directory, then COCOeval with the configured backend, and with
`eval.metric=voc` (the default on VOC-format data) the VOC mAP of the same detections; last, the
detections' match table (`coco_matches.npz`, `engine.match_table`) for `compare` and `report`.
A test split (image info without annotations) is not scored: its detections are written for the
evaluation server, with its metrics saying so, beside the run's own files (`engine.server_results`).
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import torch
from torch import nn
from torchvision.ops import box_convert

from asffbench.atomic import write_json_atomic
from asffbench.data.loaders import DataSettings, build_val_loader, check_num_classes
from asffbench.device import resolve_device
from asffbench.engine.coco_eval import METRIC_NAMES, coco_backend, coco_evaluate
from asffbench.engine.distributed import process_rank
from asffbench.engine.fusion_weights import FusionWeightStats
from asffbench.engine.inference import infer
from asffbench.engine.voc_eval import voc_evaluate
from asffbench.errors import UserError
from asffbench.engine.run_matches import run_matches
from asffbench.engine.server_results import unscored_metrics, write_test_split_outputs
from asffbench.models.fusion import fusion_info
from asffbench.record_schema import (DETECTIONS_NAME, GROUND_TRUTH_NAME, MATCHES_NAME, METRICS_NAME, VOC_METRIC,
                                     training_eval_dir)
from asffbench.settings import EvalSettings, PostprocessSettings
from asffbench.weights.resolve import WeightsSource

log = logging.getLogger(__name__)


def predict(
    model: nn.Module,
    loader: Iterable,
    label_to_cat_id: Sequence[Any],
    device: torch.device,
    settings: PostprocessSettings,
    fusion_stats: Optional[Any] = None,
) -> tuple[list[dict], list[Any]]:
    """COCO results (xywh in original pixels) of every image of `loader`, and the image ids seen.

    With `fusion_stats` (a `FusionWeightStats`), the same pass also collects the fusion weights
    at the ground-truth boxes."""
    results: list[dict] = []
    image_ids: list[Any] = []
    cat_ids = torch.as_tensor([int(c) for c in label_to_cat_id])
    for step in infer(model, loader, device, settings, fusion_weights=fusion_stats is not None):
        if fusion_stats is not None and step.output.fusion_weights is not None:
            fusion_stats.add(step.output.fusion_weights, step.targets, step.metas)
        for det, meta in zip(step.detections, step.metas):
            image_ids.append(meta["image_id"])
            results.extend(coco_results(det, meta["image_id"], cat_ids))
    return results, image_ids


def coco_results(det: dict, image_id: Any, cat_ids: torch.Tensor) -> list[dict]:
    """One image's detections (original px) as COCO results."""
    if det["boxes"].numel() == 0:
        return []
    boxes = box_convert(det["boxes"], "xyxy", "xywh")
    labels = det["labels"]
    # A model with more classes than the dataset (80 on a 6-class set) may predict
    # labels the dataset does not have: they cannot be right, so they are dropped.
    known = labels < len(cat_ids)
    categories = cat_ids[labels[known]].tolist()
    scores = det["scores"][known].tolist()
    return [
        {"image_id": image_id, "category_id": cat, "bbox": [round(v, 3) for v in box], "score": round(score, 5)}
        for box, score, cat in zip(boxes[known].tolist(), scores, categories)
    ]


def evaluate_model(settings: EvalSettings, data: DataSettings, run_dir: Path, model: nn.Module,
                   weights: Optional[WeightsSource] = None, runtime: Optional[dict] = None,
                   device: Optional[torch.device] = None) -> dict:
    """Metrics (METRIC_NAMES as fractions 0..1, None where COCO leaves one undefined) plus
    `metric` (`coco` or `voc`), `per_class`, with `voc` also `mAP`, `mAP07`, `per_class_voc` and
    `conventions` (what each figure is; `asffbench.engine.voc_eval`), `num_images`, `num_detections`,
    `backend`, `ground_truth` (the val annotation file), `checkpoint` (the whole-model weights
    file evaluated, else None), `eval_seconds`, and for adaptive fusions `fusion_weights`
    (`FusionWeightStats.result()`), for fusions with learned scalar edge weights (BiFPN)
    `edge_weights` (the fusion module's `edge_weights()`).

    On a test split (`dataset.annotated` False) every metric is None, `annotated` False with
    `no_ap_reason`, and the detections go to `server_results` / `server_zip` (the evaluation
    server's results file and its upload), the metrics to metrics_<testset>.json: the run dir's
    detections.json and metrics.json (its val evaluation) are left alone.

    `weights` says where the model's weights came from; `runtime` (what runs the forward pass:
    the caller's stand-in for an exported model answers like the eager one) is recorded as
    `runtime`. In a distributed run only rank 0
    evaluates (and writes); the other ranks return {}.
    """
    if process_rank() != 0:
        return {}
    run_dir = Path(run_dir)
    coco_backend(settings.backend)  # a missing optional backend fails before inference
    device = device if device is not None else resolve_device(settings.device)
    dtype = eval_dtype(settings.precision, device)  # fp16 without CUDA: checked before building, too
    model.to(device, dtype=dtype)
    loader, dataset = build_val_loader(data)
    check_classes(model, dataset)
    fusion_stats = fusion_weight_stats(settings, model) if dataset.annotated else None  # no boxes to read them at
    metrics, detections = score_model(settings, model, loader, dataset, device, fusion_stats)
    metrics["checkpoint"] = str(weights.path) if weights is not None and weights.whole_model else None
    if runtime is not None:
        metrics["runtime"] = runtime
    if fusion_stats is not None:
        metrics["fusion_weights"] = fusion_stats.result()
    edge_weights = fusion_edge_weights(settings, model)
    if edge_weights is not None:
        metrics["edge_weights"] = edge_weights
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics["ground_truth"] = ground_truth_file(dataset, run_dir)
    write_outputs(settings, run_dir, metrics, detections, dataset)
    return metrics


def write_outputs(settings: EvalSettings, run_dir: Path, metrics: dict, detections: list[dict], dataset: Any) -> None:
    """detections.json, metrics.json and the match table; for a test split the server's results
    file, its zip and metrics_<testset>.json instead (`server_results.write_test_split_outputs`)."""
    if not dataset.annotated:
        write_test_split_outputs(run_dir, metrics, detections, Path(dataset.ann_file), settings.alg)
        return
    write_json_atomic(run_dir / DETECTIONS_NAME, detections, indent=None)
    write_json_atomic(run_dir / METRICS_NAME, metrics)
    store_match_table(run_dir, Path(metrics["ground_truth"]), metrics["metric"] == VOC_METRIC)


def eval_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The model's dtype for `eval.precision`: fp16 (the whole model in half, as the reference's
    `--half`) only on CUDA, where half convolutions are what it measured."""
    if precision != "fp16":
        return torch.float32
    if device.type != "cuda":
        raise UserError(f"eval.precision=fp16: needs a CUDA device, this evaluation runs on {device.type}")
    return torch.float16


def store_match_table(run_dir: Path, ground_truth: Path, voc: bool) -> None:
    """Match the run's detections once more, as `compare` reads them (every image of the
    annotation file), and keep the table in the run dir: no later reader matches the run again.
    A table that cannot be made does not fail the evaluation: the metrics stand, and `compare`
    matches the run itself (and says why, if it cannot either)."""
    try:
        run_matches(run_dir / DETECTIONS_NAME, ground_truth, voc, table=run_dir / MATCHES_NAME)
    except (UserError, OSError, ValueError) as err:
        warnings.warn(f"{run_dir / MATCHES_NAME}: match table not stored ({err})", stacklevel=2)


def ground_truth_file(dataset: Any, run_dir: Path) -> str:
    """The COCO annotation file `compare` scores the detections against: the one the val set was
    read from, else (a VOC split read from XML) the set in COCO form, written into the run dir."""
    ann_file = Path(str(getattr(dataset, "ann_file", "")))
    if ann_file.suffix == ".json" and ann_file.is_file():
        return str(ann_file)
    write_json_atomic(run_dir / GROUND_TRUTH_NAME, dataset.coco.dataset, indent=None)
    return str(run_dir / GROUND_TRUTH_NAME)


def score_model(settings: EvalSettings, model: nn.Module, loader: Iterable, dataset: Any, device: torch.device,
                fusion_stats: Optional[Any] = None) -> tuple[dict, list[dict]]:
    """The metrics (as `evaluate` returns them, less `checkpoint` and `ground_truth`, which name
    files) and the detections of `model` on the val `loader`; writes nothing. A test split's
    detections are not scored (`server_results.unscored_metrics`; `backend` None)."""
    started = time.perf_counter()
    detections, image_ids = predict(model, loader, dataset.label_to_cat_id, device, settings.postprocess,
                                    fusion_stats=fusion_stats)
    metrics: dict[str, Any] = {"metric": settings.metric}
    if dataset.annotated:
        metrics.update(scores_of(settings, dataset, detections, image_ids))
    else:
        metrics.update(unscored_metrics(METRIC_NAMES, dataset.ann_file))
    metrics.update(
        num_images=len(image_ids),
        num_detections=len(detections),
        backend=settings.backend if dataset.annotated else None,
        eval_seconds=time.perf_counter() - started,
    )
    return metrics, detections


def scores_of(settings: EvalSettings, dataset: Any, detections: list[dict], image_ids: list[Any]) -> dict:
    """COCOeval's metrics and per-class AP, with `eval.metric=voc` also the VOC ones."""
    scores = coco_evaluate(dataset.coco.dataset, detections, backend=settings.backend, image_ids=image_ids)
    metrics: dict[str, Any] = {name: scores[name] for name in METRIC_NAMES}
    metrics["per_class"] = scores["per_class"]
    if settings.metric == VOC_METRIC:
        metrics.update(voc_evaluate(dataset.coco.dataset, detections, image_ids))
    return metrics


def fusion_weight_stats(settings: EvalSettings, model: nn.Module) -> Optional[FusionWeightStats]:
    """A collector of fusion weights at the val boxes when the model's fusion is adaptive, else None."""
    if not (fusion_info(settings.fusion).adaptive and hasattr(model, "fusion")):
        return None  # a stand-in model (tests, imports) has no fusion to ask
    anchors = [list(pair) for pair in settings.anchors]
    return FusionWeightStats(anchors, list(getattr(model, "strides", (32, 16, 8))))


def fusion_edge_weights(settings: EvalSettings, model: nn.Module) -> Optional[dict]:
    """`{"weighting", "layers": [{node: {input edge: weight}}]}`, the normalised scalar weights of
    a fusion that learns them (its `FusionInfo.edge_weights`), else None."""
    if not (fusion_info(settings.fusion).edge_weights and hasattr(model, "fusion")):
        return None
    return model.fusion.edge_weights()


class PeriodicEvaluator:
    """`train.eval_every=N`: the val metrics of the model in training after every N-th epoch,
    with the final evaluation's settings; the val loader (`val_data()`) is built once."""

    def __init__(self, settings: EvalSettings, val_data: Callable[[], tuple[Iterable, Any]],
                 run_dir: Optional[Path] = None) -> None:
        self.settings = settings
        self.every = settings.every
        self.val_data = val_data
        self.data: Optional[tuple] = None
        self.run_dir = run_dir  # where each evaluation keeps its detections (None: nowhere)

    def due(self, epochs_done: int) -> bool:
        # The last epoch is left to the final evaluation, which the record keeps.
        return self.every > 0 and epochs_done % self.every == 0 and epochs_done < self.settings.epochs

    def __call__(self, model: nn.Module, device: torch.device, epochs_done: Optional[int] = None) -> Optional[dict]:
        """The metrics; None on a test split (no annotations: nothing to score, said once). With a
        run dir and `epochs_done`, the detections and their match table are kept too."""
        if self.data is None:
            self.data = self.val_data()
            if not self.data[1].annotated:
                log.warning("train.eval_every=%d: %s has no annotations (a test split); no evaluation during "
                            "training, the final one writes the detections for the evaluation server",
                            self.every, self.data[1].ann_file)
        loader, dataset = self.data
        if not dataset.annotated:
            return None
        was_training = model.training
        # Evaluation must not change what training does next: its random state is put back.
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            metrics, detections = score_model(self.settings, model, loader, dataset, device)
        model.train(was_training)
        metrics.pop("per_class", None)
        if self.run_dir is not None and epochs_done is not None:
            self.keep(detections, dataset, metrics, epochs_done)
        return metrics

    def keep(self, detections: list[dict], dataset: Any, metrics: dict, epochs_done: int) -> None:
        """detections.json and the match table in `training_eval_dir`: the report bootstraps the
        delta between runs at every evaluation from them (Δ over training)."""
        folder = training_eval_dir(self.run_dir, epochs_done)
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(folder / DETECTIONS_NAME, detections, indent=None)
        store_match_table(folder, Path(ground_truth_file(dataset, self.run_dir)), metrics["metric"] == VOC_METRIC)


def check_classes(model: nn.Module, dataset: Any) -> None:
    """A given model (not built from this config) must still cover the val categories."""
    classes = getattr(model, "num_classes", None)
    if classes is not None:
        check_num_classes(classes, len(dataset.label_to_cat_id), getattr(dataset, "ann_file", "the val annotations"))
