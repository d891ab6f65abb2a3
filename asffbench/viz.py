"""Fusion-weight pictures in the style of the paper's Figure 3.

For each sample image: one row per pyramid level (stride 32, 16, 8) with that level's own
detections drawn on the image, beside the level's adaptive fusion weights alpha, beta and gamma
(the share taken from the stride-32, -16 and -8 features, summing to one at every pixel) as heat
maps. The model comes from a run directory (its config.yaml and checkpoints/last.pt) or from a
checkpoint file plus overrides (`model_source.resolve_source`); each image goes through the
shared inference loop (`engine.inference.infer`, per level).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from omegaconf import DictConfig
from torchvision.transforms.v2 import functional as F

from asffbench.atomic import write_path_atomic
from asffbench.data.coco import load_rgb
from asffbench.data.images import find_images
from asffbench.data.loaders import DataSettings, load_split
from asffbench.data.test_time import decoder_of, preprocess_test_image
from asffbench.device import resolve_device
from asffbench.drawing import draw_detections
from asffbench.engine.inference import infer
from asffbench.errors import UserError
from asffbench.model_source import ModelSource, resolve_source
from asffbench.models import FUSIONS, fusion_info
from asffbench.settings import data_settings, predict_settings
from asffbench.weights.load import build_with_weights

WEIGHT_NAMES = ("α (from stride 32)", "β (from stride 16)", "γ (from stride 8)")


def default_out(source: ModelSource) -> Path:
    """`<run>/viz` for a run's model, else `viz` here."""
    return source.run_dir / "viz" if source.run_dir is not None else Path("viz")


def default_images(cfg: DictConfig, count: int) -> tuple[list[Path], Optional[list[str]]]:
    """The first images of the configured val split, and the dataset's class names."""
    dataset = load_split(data_settings(cfg), "val")
    return [dataset.image_path(i) for i in range(min(count, len(dataset)))], dataset.class_names


def load_image(path: Path, data: DataSettings) -> tuple[np.ndarray, torch.Tensor, dict]:
    """(resized RGB uint8 (S, S, 3) for display, normalised (3, S, S) model input, its meta),
    decoded, resized and normalised as evaluation does (`recipe.test_resize`, `recipe.test_interp`,
    the family's input normalisation)."""
    rgb = load_rgb(path, path.name, decoder_of(data.test_interp))
    model_input, shown, meta = preprocess_test_image(F.pil_to_tensor(rgb), data.img_size, data.test_resize,
                                                     data.test_interp, data.input_norm)
    return shown.permute(1, 2, 0).numpy(), model_input, meta


def figure_for_image(image: np.ndarray, weights: list[torch.Tensor], detections: list[dict],
                     strides: Sequence[int], class_names: Optional[list[str]]) -> Figure:
    """3 x 4 panels: per level, its detections and its alpha / beta / gamma maps."""
    figure = Figure(figsize=(12, 9))
    axes = figure.subplots(len(weights), 4)
    for level, (level_weights, level_dets) in enumerate(zip(weights, detections)):
        row = axes[level]
        draw_detections(row[0], image, level_dets, class_names,
                   f"level {level + 1} (stride {strides[level]}): {len(level_dets['scores'])} detections")
        for k in range(3):
            heat = row[k + 1].imshow(level_weights[k].numpy(), cmap="jet", vmin=0.0, vmax=1.0)
            row[k + 1].set_title(f"level {level + 1} {WEIGHT_NAMES[k]}", fontsize=8)
            row[k + 1].axis("off")
        figure.colorbar(heat, ax=list(row[1:]), fraction=0.02)
    FigureCanvasAgg(figure)
    return figure


def visualize(
    target: Path,
    images: Sequence[Path] = (),
    out_dir: Optional[Path] = None,
    overrides: Sequence[str] = (),
    score_thresh: Optional[float] = None,
    max_images: int = 4,
) -> list[Path]:
    """Write one PNG per image; returns their paths."""
    if score_thresh is not None and not 0.0 <= score_thresh <= 1.0:
        raise UserError(f"--score-thresh {score_thresh}: must be between 0 and 1")
    source = resolve_source(overrides, target=Path(target))
    cfg = source.cfg
    if not fusion_info(str(cfg.fusion.name)).adaptive:
        adaptive = " or ".join(name for name in FUSIONS if fusion_info(name).adaptive)
        raise UserError(f"fusion.name={cfg.fusion.name}: has no adaptive fusion weights to show "
                        f"(viz needs fusion={adaptive})")
    class_names = None
    paths = find_images([Path(p) for p in images]) if images else None
    if paths is None:
        paths, class_names = default_images(cfg, max_images)
    out = Path(out_dir) if out_dir is not None else default_out(source)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")
    device = resolve_device(cfg.device)
    model = build_with_weights(cfg, source.weights).to(device)
    data = data_settings(cfg)
    settings = predict_settings(cfg, score_thresh)
    written = []
    for path in paths[:max_images]:
        shown, tensor, meta = load_image(path, data)
        step = next(infer(model, [(tensor[None], None, [meta])], device, settings,
                          fusion_weights=True, per_level=True))
        weights = [w[0].float().cpu() for w in step.output.fusion_weights]
        # Each level's own detections, drawn on the resized image the weight maps align with.
        detections = [level[0] for level in step.level_detections]
        figure = figure_for_image(shown, weights, detections, model.strides, class_names)
        target_png = out / f"fusion_weights_{path.stem}.png"
        write_path_atomic(target_png, lambda tmp: figure.savefig(tmp, dpi=100, format="png"))
        written.append(target_png)
    return written
