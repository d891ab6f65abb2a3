"""Fusion-weight pictures in the style of the paper's Figure 3.

For each sample image: one row per pyramid level (stride 32, 16, 8) with that level's own
detections drawn on the image, beside the level's adaptive fusion weights alpha, beta and gamma
(the share taken from the stride-32, -16 and -8 features, summing to one at every pixel) as heat
maps. The model comes from a run directory (its config.yaml and checkpoints/last.pt) or from a
checkpoint file plus overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.v2 import functional as F

from asffbench.errors import UserError
from asffbench.weights.resolve import VIZ, WeightsSource, resolve_weights, run_dir_of

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
WEIGHT_NAMES = ("α (from stride 32)", "β (from stride 16)", "γ (from stride 8)")


@dataclass
class VizSource:
    cfg: DictConfig
    weights: WeightsSource
    default_out: Path


def load_run_config(path: Path, overrides: Sequence[str]) -> DictConfig:
    """A run's config.yaml checked against the schema, with `key=value` overrides applied."""
    from asffbench.config.schema import ExperimentConfig

    try:
        cfg = OmegaConf.merge(OmegaConf.structured(ExperimentConfig), OmegaConf.load(path))
    except (OmegaConfBaseException, OSError, ValueError) as err:
        raise UserError(f"{path}: not a usable run config ({str(err).splitlines()[0]})") from None
    groups = ("fusion", "model", "tricks", "data")  # group choices would rebuild another model
    bad = [o for o in overrides if "=" not in o or o.split("=", 1)[0].strip() in groups]
    if bad:
        raise UserError(f"override '{bad[0]}': a run's config is fixed; only key.path=value overrides "
                        "(e.g. device=cpu eval.nms_iou=0.5) apply to it")
    from asffbench.config.validate import validate_config

    try:
        merged = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as err:
        raise UserError(f"override: {str(err).splitlines()[0]}") from None
    return validate_config(merged)


def resolve_source(target: Path, overrides: Sequence[str]) -> VizSource:
    """Config and weights of a run directory (as `run_dir`), or of a checkpoint file (as
    `eval.checkpoint`, with its run's config when it lies in one, else the overrides')."""
    from asffbench.config.compose import RUN_CONFIG, compose_config

    if not target.exists():
        raise UserError(f"{target}: no such run directory or checkpoint")
    if target.is_dir():
        if not (target / RUN_CONFIG).is_file():
            raise UserError(f"{target}: not a run directory (no {RUN_CONFIG})")
        cfg, option, default_out = load_run_config(target / RUN_CONFIG, overrides), "run_dir", target / "viz"
    else:
        run_dir = run_dir_of(target)
        if run_dir is not None and (run_dir / RUN_CONFIG).is_file():
            cfg, default_out = load_run_config(run_dir / RUN_CONFIG, overrides), run_dir / "viz"
        else:
            cfg, default_out = compose_config(list(overrides)), Path("viz")
        option = "eval.checkpoint"
    named = cfg.copy()
    with open_dict(named):  # the target names the weights, whatever the run's config said
        named.eval.checkpoint = None
        named.run_dir = None
        OmegaConf.update(named, option, str(target))
    weights = resolve_weights(named, VIZ)
    assert weights is not None  # the target was just set
    return VizSource(cfg, weights, default_out)


def find_images(paths: Sequence[Path], option: str = "--images ") -> list[Path]:
    """Image files given directly, and those in the folders (sorted); `option` prefixes errors."""
    images: list[Path] = []
    for path in paths:
        if path.is_dir():
            images += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            images.append(path)
        else:
            raise UserError(f"{option}{path}: no such file or directory")
    if not images:
        raise UserError(f"{option}{', '.join(map(str, paths))}: no images found")
    return images


def default_images(cfg: DictConfig, count: int) -> tuple[list[Path], Optional[list[str]]]:
    """The first images of the configured val split, and the dataset's class names."""
    from asffbench.data.loaders import load_split

    dataset = load_split(cfg, "val")
    return [dataset.image_path(i) for i in range(min(count, len(dataset)))], dataset.class_names


def load_image(path: Path, size: int, resize: str = "letterbox") -> tuple[np.ndarray, torch.Tensor]:
    """(resized RGB uint8 (S, S, 3) for display, normalised (3, S, S) model input)."""
    from asffbench.data.transforms import preprocess_test_image

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (OSError, UnidentifiedImageError):
        raise UserError(f"{path}: not a readable image") from None
    model_input, shown, _ = preprocess_test_image(F.pil_to_tensor(rgb), size, resize)
    return shown.permute(1, 2, 0).numpy(), model_input


def draw_level(ax, image: np.ndarray, detections: dict, class_names: Optional[list[str]], title: str) -> None:
    ax.imshow(image)
    for box, score, label in zip(detections["boxes"].tolist(), detections["scores"].tolist(),
                                 detections["labels"].tolist()):
        x1, y1, x2, y2 = box
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="lime",
                               linewidth=1.5, clip_on=True))
        name = class_names[label] if class_names and label < len(class_names) else str(label)
        ax.text(x1, y1, f"{name} {score:.2f}", color="black", fontsize=6, va="bottom", clip_on=True,
                bbox={"facecolor": "lime", "alpha": 0.7, "pad": 1, "linewidth": 0})
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def figure_for_image(image: np.ndarray, weights: list[torch.Tensor], detections: list[dict],
                     strides: Sequence[int], class_names: Optional[list[str]]) -> Figure:
    """3 x 4 panels: per level, its detections and its alpha / beta / gamma maps."""
    figure = Figure(figsize=(12, 9))
    axes = figure.subplots(len(weights), 4)
    for level, (level_weights, level_dets) in enumerate(zip(weights, detections)):
        row = axes[level]
        draw_level(row[0], image, level_dets, class_names,
                   f"level {level + 1} (stride {strides[level]}): {len(level_dets['scores'])} detections")
        for k in range(3):
            heat = row[k + 1].imshow(level_weights[k].numpy(), cmap="jet", vmin=0.0, vmax=1.0)
            row[k + 1].set_title(f"level {level + 1} {WEIGHT_NAMES[k]}", fontsize=8)
            row[k + 1].axis("off")
        figure.colorbar(heat, ax=list(row[1:]), fraction=0.02)
    FigureCanvasAgg(figure)
    return figure


@torch.no_grad()
def visualize(
    target: Path,
    images: Sequence[Path] = (),
    out_dir: Optional[Path] = None,
    overrides: Sequence[str] = (),
    score_thresh: float = 0.3,
    max_images: int = 4,
) -> list[Path]:
    """Write one PNG per image; returns their paths."""
    from asffbench.atomic import write_path_atomic
    from asffbench.device import resolve_device
    from asffbench.engine.postprocess import postprocess, postprocess_settings
    from asffbench.models import FUSIONS, fusion_info
    from asffbench.weights.load import build_with_weights

    if not 0.0 <= score_thresh <= 1.0:
        raise UserError(f"--score-thresh {score_thresh}: must be between 0 and 1")
    source = resolve_source(Path(target), overrides)
    cfg = source.cfg
    if not fusion_info(str(cfg.fusion.name)).adaptive:
        adaptive = " or ".join(name for name in FUSIONS if fusion_info(name).adaptive)
        raise UserError(f"fusion.name={cfg.fusion.name}: has no adaptive fusion weights to show "
                        f"(viz needs fusion={adaptive})")
    class_names = None
    paths = find_images([Path(p) for p in images]) if images else None
    if paths is None:
        paths, class_names = default_images(cfg, max_images)
    out = Path(out_dir) if out_dir is not None else source.default_out
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")
    device = resolve_device(cfg.device)
    model = build_with_weights(cfg, source.weights).to(device).eval()
    size = int(cfg.img_size)
    settings = {**postprocess_settings(cfg), "score_thresh": score_thresh}
    written = []
    for path in paths[:max_images]:
        shown, tensor = load_image(path, size, cfg.recipe.test_resize)
        output = model(tensor[None].to(device), return_fusion_weights=True)
        weights = [w[0].float().cpu() for w in output.fusion_weights]
        detections = [
            {k: v.cpu() for k, v in postprocess([level], **settings)[0].items()}
            for level in output.levels
        ]
        figure = figure_for_image(shown, weights, detections, model.strides, class_names)
        target_png = out / f"fusion_weights_{path.stem}.png"
        write_path_atomic(target_png, lambda tmp: figure.savefig(tmp, dpi=100, format="png"))
        written.append(target_png)
    return written
