"""`predict`: detections on image files, through the test-time pipeline evaluation uses.

The model comes from `model.weights=FILE` (either weights format), `eval.checkpoint=FILE` or a
run (`run_dir=DIR`: its config.yaml and checkpoints/last.pt), as `resolve_weights(cfg, "eval")`
picks them. Each image goes through the val
preprocessing (`data.loaders.val_dataset`) and evaluation's post-processing settings (with the
caller's score threshold); boxes are mapped back to original-image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from omegaconf import DictConfig

from asffbench.errors import UserError
from asffbench.weights.resolve import EVAL, WeightsSource, resolve_weights, run_dir_of

COCO_CLASSES = 80
NO_MODEL = "predict: no model to run; set model.weights=FILE, run_dir=DIR (a train run) or eval.checkpoint=FILE"


@dataclass
class PredictSource:
    cfg: DictConfig
    weights: WeightsSource
    run_dir: Optional[Path]  # the run the model comes from, when it comes from one


def split_items(items: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Command-line items -> (image paths, overrides): `key=value` unless it names a file."""
    paths, overrides = [], []
    for item in items:
        is_override = "=" in item and not Path(item).exists()
        (overrides if is_override else paths).append(item if is_override else Path(item))
    return paths, overrides


def resolve_source(overrides: Sequence[str]) -> PredictSource:
    """Config and weights: a run's config (+ key=value overrides) or the composed config."""
    from asffbench.config.compose import RUN_CONFIG, compose_config
    from asffbench.viz import load_run_config

    cfg = compose_config(list(overrides))
    run = run_of(cfg)
    if run is None and not cfg.model.get("weights"):
        raise UserError(NO_MODEL)
    if run is not None:
        config = run / RUN_CONFIG
        if not config.is_file():
            raise UserError(f"run_dir={run}: not a run directory (no {RUN_CONFIG})")
        cfg = load_run_config(config, overrides)
    weights = resolve_weights(cfg, EVAL)
    if weights is None:
        raise UserError(NO_MODEL)
    return PredictSource(cfg, weights, run)


def run_of(cfg: DictConfig) -> Optional[Path]:
    """`run_dir`, else the run directory `eval.checkpoint` lies in, else None."""
    if cfg.run_dir:
        return Path(cfg.run_dir)
    return run_dir_of(Path(cfg.eval.checkpoint)) if cfg.eval.checkpoint else None


def coco_class_names() -> list[str]:
    """The 80 COCO category names in category-id order (torchvision's detection metadata)."""
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    categories = FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    return [name for name in categories if name not in ("__background__", "N/A")]


def class_names_for(source: PredictSource, num_classes: int) -> Optional[list[str]]:
    """The run's dataset names when known, else COCO's for an 80-class model, else None (indices)."""
    if source.run_dir is not None:
        from asffbench.data.loaders import load_split

        try:
            return load_split(source.cfg, "val").class_names
        except UserError:  # the run's data is not on this machine
            pass
    return coco_class_names() if num_classes == COCO_CLASSES else None


@torch.no_grad()
def detect(model: torch.nn.Module, paths: Sequence[Path], cfg: DictConfig, score_thresh: float,
           class_names: Optional[list[str]]) -> list[dict[str, Any]]:
    """One record per image: file, width, height and its detections sorted by score."""
    from asffbench.data.images import ImageFiles
    from asffbench.data.loaders import val_dataset
    from asffbench.device import resolve_device
    from asffbench.engine.postprocess import boxes_to_original, postprocess, postprocess_settings

    device = resolve_device(cfg.device)
    model.to(device).eval()
    dataset = val_dataset(cfg, ImageFiles(paths))
    settings = {**postprocess_settings(cfg), "score_thresh": score_thresh}
    records = []
    for index, path in enumerate(paths):
        image, _target, meta = dataset[index]
        found = postprocess(model(image[None].to(device)).levels, **settings)[0]
        boxes = boxes_to_original(found["boxes"].float().cpu(), meta)
        scores, labels = found["scores"].float().cpu(), found["labels"].cpu()
        order = scores.argsort(descending=True, stable=True).tolist()
        height, width = meta["orig_size"]
        records.append({
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
        })
    return records


def class_name(class_names: Optional[list[str]], label: int) -> str:
    return class_names[label] if class_names and label < len(class_names) else str(label)


def draw(record: dict[str, Any], out: Path) -> Path:
    """The image at its own size with its detections drawn, as a PNG at `out`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from asffbench.atomic import write_path_atomic
    from asffbench.data.coco import load_rgb
    from asffbench.viz import draw_level

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
    draw_level(ax, rgb, found, names, title="")
    return write_path_atomic(out, lambda tmp: figure.savefig(tmp, dpi=dpi, format="png"))


def png_names(paths: Sequence[Path]) -> list[str]:
    """`<stem>.png` per image; images sharing a stem get their position appended."""
    stems = [p.stem for p in paths]
    return [f"{s}.png" if stems.count(s) == 1 else f"{s}_{i}.png" for i, s in enumerate(stems)]


def predict(
    images: Sequence[Path],
    overrides: Sequence[str] = (),
    out_dir: Optional[Path] = None,
    score_thresh: float = 0.3,
) -> tuple[dict[str, Any], list[Path]]:
    """`({"images": [record per image]}, PNGs written under out_dir)`."""
    from asffbench.viz import find_images
    from asffbench.weights.load import build_with_weights

    if not 0.0 <= score_thresh <= 1.0:
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
