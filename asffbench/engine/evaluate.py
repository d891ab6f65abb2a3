"""`evaluate(cfg, run_dir, model=None) -> metrics`: COCO bbox AP of a checkpoint or a model.

Batched inference on the val loader, decoding + class-wise NMS (`postprocess`), boxes mapped
back to original image pixels, labels to category ids, `detections.json` (COCO results) and
`metrics.json` in the run directory, then COCOeval with the configured backend, and with
`eval.metric=voc` (the default on VOC-format data) the VOC mAP of the same detections.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import torch
from omegaconf import DictConfig
from torch import nn
from torchvision.ops import box_convert

from asffbench.atomic import write_json_atomic
from asffbench.config.schema import choice_str
from asffbench.engine.checkpoint import last_checkpoint, run_dir_of
from asffbench.engine.coco_eval import METRIC_NAMES, coco_backend, coco_evaluate
from asffbench.engine.distributed import process_rank
from asffbench.errors import UserError
from asffbench.record_schema import DETECTIONS_NAME, GROUND_TRUTH_NAME, METRICS_NAME


def eval_run_dir(cfg: DictConfig) -> Path:
    """Where detections.json and metrics.json go: run_dir, else the checkpoint's (or model.weights')
    run directory (or, for a file outside one, its folder)."""
    if cfg.run_dir:
        return Path(cfg.run_dir)
    for _option, weights in configured_weights(cfg):
        checkpoint = Path(weights)
        return run_dir_of(checkpoint) or checkpoint.parent
    raise UserError("eval: nothing to evaluate; set run_dir=DIR (a train run), eval.checkpoint=FILE or "
                    "model.weights=FILE")


def checkpoint_to_evaluate(cfg: DictConfig, run_dir: Path) -> Path:
    """`eval.checkpoint` when set, else `model.weights`, else `run_dir/checkpoints/last.pt`; it
    must exist."""
    for option, value in configured_weights(cfg):
        path = Path(value)
        if not path.is_file():
            raise UserError(f"{option}={path}: checkpoint not found")
        return path
    path = last_checkpoint(run_dir)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found (train with run_dir={run_dir} first, or set eval.checkpoint)")
    return path


def load_model_for_eval(cfg: DictConfig, path: Path) -> nn.Module:
    """The configured model with the weights of `path` (either format of `asffbench.weights`)."""
    from asffbench.build import build_model
    from asffbench.weights import load_weights

    model = build_model(cfg, load_weights=False)
    load_weights(model, path, cfg.model.get("weights_format", "auto"), option=option_of(cfg, path))
    return model


def configured_weights(cfg: DictConfig) -> list[tuple[str, str]]:
    """(option, path) of the weights the config names, by precedence: eval.checkpoint, model.weights."""
    named = (("eval.checkpoint", cfg.eval.get("checkpoint")), ("model.weights", cfg.model.get("weights")))
    return [(option, str(value)) for option, value in named if value]


def option_of(cfg: DictConfig, path: Path) -> Optional[str]:
    """The config key `path` came from, for messages (None: a run's own checkpoint)."""
    return next((option for option, value in configured_weights(cfg) if Path(value) == Path(path)), None)


@torch.no_grad()
def predict(
    model: nn.Module,
    loader: Iterable,
    label_to_cat_id: Sequence[Any],
    device: torch.device,
    *,
    score_thresh: float,
    nms_iou: float,
    max_det: int,
    multi_label: bool = True,
    fusion_stats: Optional[Any] = None,
) -> tuple[list[dict], list[Any]]:
    """COCO results (xywh in original pixels) of every image of `loader`, and the image ids seen.

    With `fusion_stats` (a `FusionWeightStats`), the same pass also collects the fusion weights
    at the ground-truth boxes."""
    from asffbench.engine.postprocess import boxes_to_original, postprocess

    model.eval()
    results: list[dict] = []
    image_ids: list[Any] = []
    cat_ids = torch.as_tensor([int(c) for c in label_to_cat_id])
    for images, targets, metas in loader:
        if fusion_stats is None:
            output = model(images.to(device, non_blocking=True))
        else:
            output = model(images.to(device, non_blocking=True), return_fusion_weights=True)
            if output.fusion_weights is not None:
                fusion_stats.add(output.fusion_weights, targets, metas)
        detections = postprocess(
            output.levels, score_thresh=score_thresh, nms_iou=nms_iou, max_det=max_det, multi_label=multi_label
        )
        for det, meta in zip(detections, metas):
            image_ids.append(meta["image_id"])
            if det["boxes"].numel() == 0:
                continue
            boxes = box_convert(boxes_to_original(det["boxes"].float().cpu(), meta), "xyxy", "xywh")
            labels = det["labels"].cpu()
            # A model with more classes than the dataset (80 on a 6-class set) may predict
            # labels the dataset does not have: they cannot be right, so they are dropped.
            known = labels < len(cat_ids)
            categories = cat_ids[labels[known]].tolist()
            scores = det["scores"].float().cpu()[known].tolist()
            for box, score, cat in zip(boxes[known].tolist(), scores, categories):
                results.append(
                    {
                        "image_id": meta["image_id"],
                        "category_id": cat,
                        "bbox": [round(v, 3) for v in box],
                        "score": round(score, 5),
                    }
                )
    return results, image_ids


def evaluate(cfg: DictConfig, run_dir: Path, model: Optional[nn.Module] = None) -> dict:
    """Metrics (METRIC_NAMES as fractions 0..1, None where COCO leaves one undefined) plus
    `metric` (`coco` or `voc`), `per_class`, with `voc` also `mAP`, `mAP07`, `per_class_voc` and
    `conventions` (what each figure is; `asffbench.engine.voc_eval`), `num_images`, `num_detections`,
    `backend`, `ground_truth` (the val annotation file), `checkpoint`, `eval_seconds`, and for
    adaptive fusions `fusion_weights` (`FusionWeightStats.result()`), for fusions with learned
    scalar edge weights (BiFPN) `edge_weights` (the fusion module's `edge_weights()`).

    In a distributed run only rank 0 evaluates (and writes); the other ranks return {}.
    """
    from asffbench.data import build_val_loader
    from asffbench.device import resolve_device

    if process_rank() != 0:
        return {}
    run_dir = Path(run_dir)
    coco_backend(cfg.eval.backend)  # a missing optional backend fails before inference
    checkpoint = None
    if model is None:
        checkpoint = checkpoint_to_evaluate(cfg, run_dir)
        model = load_model_for_eval(cfg, checkpoint)
    device = resolve_device(cfg.device)
    model.to(device)
    loader, dataset = build_val_loader(cfg)
    check_classes(model, dataset)
    fusion_stats = fusion_weight_stats(cfg, model)
    metrics, detections = score_model(cfg, model, loader, dataset, device, fusion_stats)
    metrics["checkpoint"] = str(checkpoint) if checkpoint else None
    if fusion_stats is not None:
        metrics["fusion_weights"] = fusion_stats.result()
    edge_weights = fusion_edge_weights(cfg, model)
    if edge_weights is not None:
        metrics["edge_weights"] = edge_weights
    run_dir.mkdir(parents=True, exist_ok=True)
    metrics["ground_truth"] = ground_truth_file(dataset, run_dir)
    write_json_atomic(run_dir / DETECTIONS_NAME, detections, indent=None)
    write_json_atomic(run_dir / METRICS_NAME, metrics)
    return metrics


def ground_truth_file(dataset: Any, run_dir: Path) -> str:
    """The COCO annotation file `compare` scores the detections against: the one the val set was
    read from, else (a VOC split read from XML) the set in COCO form, written into the run dir."""
    ann_file = Path(str(getattr(dataset, "ann_file", "")))
    if ann_file.suffix == ".json" and ann_file.is_file():
        return str(ann_file)
    write_json_atomic(run_dir / GROUND_TRUTH_NAME, dataset.coco.dataset, indent=None)
    return str(run_dir / GROUND_TRUTH_NAME)


def score_model(cfg: DictConfig, model: nn.Module, loader: Iterable, dataset: Any, device: torch.device,
                fusion_stats: Optional[Any] = None) -> tuple[dict, list[dict]]:
    """The metrics (as `evaluate` returns them, less `checkpoint` and `ground_truth`, which name
    files) and the detections of `model` on the val `loader`; writes nothing."""
    from asffbench.engine.postprocess import postprocess_settings

    started = time.perf_counter()
    detections, image_ids = predict(
        model,
        loader,
        dataset.label_to_cat_id,
        device,
        **postprocess_settings(cfg),
        fusion_stats=fusion_stats,
    )
    scores = coco_evaluate(dataset.coco.dataset, detections, backend=cfg.eval.backend, image_ids=image_ids)
    metrics: dict[str, Any] = {"metric": metric_of(cfg)}
    metrics.update({name: scores[name] for name in METRIC_NAMES})
    metrics["per_class"] = scores["per_class"]
    if metrics["metric"] == "voc":
        from asffbench.engine.voc_eval import voc_evaluate

        metrics.update(voc_evaluate(dataset.coco.dataset, detections, image_ids))
    metrics.update(
        num_images=len(image_ids),
        num_detections=len(detections),
        backend=choice_str(cfg.eval.backend),
        eval_seconds=time.perf_counter() - started,
    )
    return metrics, detections


def fusion_weight_stats(cfg: DictConfig, model: nn.Module) -> Optional[Any]:
    """A collector of fusion weights at the val boxes when the model's fusion is adaptive, else None."""
    from asffbench.build import anchors_from_config
    from asffbench.engine.fusion_weights import FusionWeightStats
    from asffbench.models.fusion import fusion_info

    if not (fusion_info(str(cfg.fusion.name)).adaptive and hasattr(model, "fusion")):
        return None  # a stand-in model (tests, imports) has no fusion to ask
    return FusionWeightStats(anchors_from_config(cfg), list(getattr(model, "strides", (32, 16, 8))))


def fusion_edge_weights(cfg: DictConfig, model: nn.Module) -> Optional[dict]:
    """`{"weighting", "layers": [{node: {input edge: weight}}]}`, the normalised scalar weights of
    a fusion that learns them (its `FusionInfo.edge_weights`), else None."""
    from asffbench.models.fusion import fusion_info

    if not (fusion_info(str(cfg.fusion.name)).edge_weights and hasattr(model, "fusion")):
        return None
    return model.fusion.edge_weights()


class PeriodicEvaluator:
    """`train.eval_every=N`: the val metrics of the model in training after every N-th epoch,
    with the final evaluation's settings; the val loader is built once."""

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.every = int(cfg.train.get("eval_every", 0) or 0)
        self.data: Optional[tuple] = None

    def due(self, epochs_done: int) -> bool:
        # The last epoch is left to the final evaluation, which the record keeps.
        return self.every > 0 and epochs_done % self.every == 0 and epochs_done < int(self.cfg.train.epochs)

    def __call__(self, model: nn.Module, device: torch.device) -> dict:
        from asffbench.data import build_val_loader

        if self.data is None:
            self.data = build_val_loader(self.cfg)
        loader, dataset = self.data
        was_training = model.training
        # Evaluation must not change what training does next: its random state is put back.
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            metrics, _ = score_model(self.cfg, model, loader, dataset, device)
        model.train(was_training)
        metrics.pop("per_class", None)
        return metrics


def metric_of(cfg: DictConfig) -> str:
    """`eval.metric`, with `auto` resolved: `voc` on VOC-format data, `coco` otherwise."""
    from asffbench.config.schema import choice_str
    from asffbench.data.sources import VOC_KINDS

    metric = choice_str(cfg.eval.metric)
    if metric == "auto":
        return "voc" if cfg.data.name in VOC_KINDS else "coco"
    return metric


def check_classes(model: nn.Module, dataset: Any) -> None:
    """A given model (not built from this config) must still cover the val categories."""
    from asffbench.data.loaders import check_num_classes

    classes = getattr(model, "num_classes", None)
    if classes is not None:
        check_num_classes(classes, len(dataset.label_to_cat_id), getattr(dataset, "ann_file", "the val annotations"))
