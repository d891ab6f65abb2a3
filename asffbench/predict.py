"""`predict`: detections on image files, through the test-time pipeline evaluation uses.

The model comes from `model.weights=FILE` (either weights format), `eval.checkpoint=FILE` or a
run (`run_dir=DIR`: its config.yaml and checkpoints/last.pt), as `model_source.resolve_source`
decides. Each image goes through the val preprocessing (`data.loaders.val_dataset`) and the
inference loop evaluation uses (`engine.inference.infer`, with evaluation's post-processing
settings but the caller's score threshold); boxes come back in original-image pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from omegaconf import DictConfig
from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

from asffbench.atomic import write_path_atomic
from asffbench.config.compose import RUN_CONFIG
from asffbench.data.coco import load_rgb
from asffbench.data.images import ImageFiles, find_images
from asffbench.data.loaders import load_split, val_dataset
from asffbench.device import resolve_device
from asffbench.drawing import class_name, draw_detections
from asffbench.engine.inference import infer, single_images
from asffbench.errors import UserError
from asffbench.model_source import ModelSource, resolve_source
from asffbench.settings import data_settings, predict_settings
from asffbench.weights.load import build_with_weights

COCO_CLASSES = 80


def split_items(items: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Command-line items -> (image paths, overrides): `key=value` unless it names a file; a run
    directory (a folder with a config.yaml, as a sweep's `fusion=asff`) names the model, as
    `run_dir=DIR`."""
    paths, overrides = [], []
    for item in items:
        if (Path(item) / RUN_CONFIG).is_file():
            overrides.append(f"run_dir={item}")
            continue
        is_override = "=" in item and not Path(item).exists()
        (overrides if is_override else paths).append(item if is_override else Path(item))
    return paths, overrides


def coco_class_names() -> list[str]:
    """The 80 COCO category names in category-id order (torchvision's detection metadata)."""
    categories = FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    return [name for name in categories if name not in ("__background__", "N/A")]


def class_names_for(source: ModelSource, num_classes: int) -> Optional[list[str]]:
    """The run's dataset names when known, else COCO's for an 80-class model, else None (indices)."""
    if source.run_dir is not None:
        try:
            return load_split(data_settings(source.cfg), "val").class_names
        except UserError:  # the run's data is not on this machine
            pass
    return coco_class_names() if num_classes == COCO_CLASSES else None


def detect(model: torch.nn.Module, paths: Sequence[Path], cfg: DictConfig, score_thresh: Optional[float],
           class_names: Optional[list[str]]) -> list[dict[str, Any]]:
    """One record per image: file, width, height and its detections sorted by score."""
    settings = predict_settings(cfg, score_thresh)
    device = resolve_device(cfg.device)
    model.to(device)
    dataset = val_dataset(data_settings(cfg), ImageFiles(paths))
    items = (dataset[index] for index in range(len(paths)))
    steps = infer(model, single_images(items), device, settings)
    return [image_record(path, step.detections[0], step.metas[0], class_names) for path, step in zip(paths, steps)]


def image_record(path: Path, found: dict, meta: dict, class_names: Optional[list[str]]) -> dict[str, Any]:
    boxes, scores, labels = found["boxes"], found["scores"], found["labels"]
    order = scores.argsort(descending=True, stable=True).tolist()
    height, width = meta["orig_size"]
    return {
        "file": str(path),
        "width": int(width),
        "height": int(height),
        "detections": [
            {
                "box_xyxy": [round(v, 2) for v in boxes[k].tolist()],
                "score": round(float(scores[k]), 5),
                "class": int(labels[k]),
                "name": class_name(class_names, int(labels[k])),
            }
            for k in order
        ],
    }


def draw(record: dict[str, Any], out: Path) -> Path:
    """The image at its own size with its detections drawn, as a PNG at `out`."""
    rgb = np.asarray(load_rgb(Path(record["file"]), record["file"]))
    dpi = 100
    figure = Figure(figsize=(record["width"] / dpi, record["height"] / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    dets = record["detections"]
    names = [d["name"] for d in dets]
    found = {
        "boxes": torch.tensor([d["box_xyxy"] for d in dets]).reshape(-1, 4),
        "scores": torch.tensor([d["score"] for d in dets]),
        "labels": torch.arange(len(dets)),  # index into `names`, so each box shows its own name
    }
    draw_detections(ax, rgb, found, names, title="")
    return write_path_atomic(out, lambda tmp: figure.savefig(tmp, dpi=dpi, format="png"))


def png_names(paths: Sequence[Path]) -> list[str]:
    """`<stem>.png` per image; images sharing a stem get their position appended."""
    stems = [p.stem for p in paths]
    return [f"{s}.png" if stems.count(s) == 1 else f"{s}_{i}.png" for i, s in enumerate(stems)]


def predict(
    images: Sequence[Path],
    overrides: Sequence[str] = (),
    out_dir: Optional[Path] = None,
    score_thresh: Optional[float] = None,
) -> tuple[dict[str, Any], list[Path]]:
    """`({"images": [record per image]}, PNGs written under out_dir)`; `score_thresh` None:
    eval.predict_score_thresh."""
    if score_thresh is not None and not 0.0 <= score_thresh <= 1.0:
        raise UserError(f"--score-thresh {score_thresh}: must be between 0 and 1")
    if not images:
        raise UserError("predict: no images given (files or folders)")
    paths = find_images(list(images), option="")
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir}: exists and is not a directory")
    source = resolve_source(overrides)
    model = build_with_weights(source.cfg, source.weights)
    records = detect(model, paths, source.cfg, score_thresh, class_names_for(source, model.num_classes))
    written = []
    if out_dir is not None:
        written = [draw(record, out_dir / name) for record, name in zip(records, png_names(paths))]
    return {"images": records}, written
