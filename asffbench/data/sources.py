"""Where a split's annotation file and images are, from the config (`data=synth|coco|folder`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asffbench.data.synth import SynthParams, ensure_synth
from asffbench.errors import UserError

SPLITS = ("train", "val")


def split_paths(data_cfg: Any, split: str) -> tuple[Path, Path]:
    """(annotation file, image directory) of `split` for the `data` config node.

    `data.<split>.ann` / `data.<split>.images` override the defaults of every dataset kind.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    explicit = data_cfg[split]
    ann, images = explicit.get("ann"), explicit.get("images")
    name = data_cfg.name
    if name == "synth":
        if ann is None or images is None:
            synth = data_cfg.synth
            params = SynthParams(
                images=int(synth.images), val_fraction=float(synth.val_fraction),
                seed=int(synth.seed), image_size=int(synth.image_size),
            )
            root = ensure_synth(params, data_cfg.get("cache_dir"))
            ann = ann or str(root / f"instances_{split}.json")
            images = images or str(root / split)
    elif name == "coco":
        if ann is None or images is None:
            if not data_cfg.get("root"):
                raise UserError(
                    "data.root: required for data=coco (the COCO 2017 folder with annotations/, "
                    "train2017/, val2017/); set data.root=DIR"
                )
            root = Path(data_cfg.root).expanduser()
            if not root.is_dir():
                raise UserError(f"{root}: directory not found (data.root)")
            ann = ann or str(root / "annotations" / f"instances_{split}2017.json")
            images = images or str(root / f"{split}2017")
    elif name == "folder":
        for key, value in (("ann", ann), ("images", images)):
            if value is None:
                raise UserError(f"data.{split}.{key}: required for data=folder; set data.{split}.{key}=PATH")
    else:
        raise UserError(f"data.name={name}: unknown dataset kind; choose from coco, folder, synth")
    ann_path, image_dir = Path(ann).expanduser(), Path(images).expanduser()
    if not ann_path.is_file():
        raise UserError(f"{ann_path}: annotation file not found (data.{split}.ann)")
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: image directory not found (data.{split}.images)")
    return ann_path, image_dir
