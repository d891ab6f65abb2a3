"""Where a split's annotations and images are, from the config (`data=synth|coco|folder|voc|voc_synth`).

`load_source(data_cfg, split)` reads the split: COCO-format files through `CocoDataset`, VOC-format
folders through `asffbench.data.voc` (same `CocoDataset` structure).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asffbench.data.coco import CocoDataset
from asffbench.data.synth import CLASS_NAMES as SYNTH_CLASSES
from asffbench.data.synth import SynthParams, ensure_synth
from asffbench.errors import UserError

SPLITS = ("train", "val")
VOC_KINDS = ("voc", "voc_synth")  # read from VOCdevkit folders; their metric defaults to VOC mAP


def load_source(data_cfg: Any, split: str) -> CocoDataset:
    """The `split` of the configured dataset."""
    if data_cfg.name in VOC_KINDS:
        return load_voc(data_cfg, split)
    return CocoDataset(*split_paths(data_cfg, split))


def check_source_paths(data_cfg: Any, split: str) -> None:
    """Fail fast (UserError) when the files `split` needs are missing, without reading them all."""
    if data_cfg.name == "voc":
        from asffbench.data.voc import DEFAULT_SETS, parse_sets

        root = voc_root(data_cfg)
        for voc_set in parse_sets(data_cfg[split].get("sets"), f"data.{split}.sets", DEFAULT_SETS[split]):
            if not voc_set.split_file(root).is_file():
                raise UserError(f"{voc_set.split_file(root)}: split file not found")
    elif data_cfg.name not in ("synth", "voc_synth"):  # generated ones cannot be missing
        split_paths(data_cfg, split)


def voc_root(data_cfg: Any) -> Path:
    return dataset_root(data_cfg, "the VOCdevkit folder with VOC2007/, VOC2012/")


def dataset_root(data_cfg: Any, holds: str) -> Path:
    """`data.root`, an existing directory; `holds` says what it is for the dataset kind."""
    if not data_cfg.get("root"):
        raise UserError(f"data.root: required for data={data_cfg.name} ({holds}); set data.root=DIR")
    root = Path(data_cfg.root).expanduser()
    if not root.is_dir():
        raise UserError(f"{root}: directory not found (data.root)")
    return root


def synth_params(data_cfg: Any) -> SynthParams:
    synth = data_cfg.synth
    return SynthParams(
        images=int(synth.images), val_fraction=float(synth.val_fraction),
        seed=int(synth.seed), image_size=int(synth.image_size),
    )


def load_voc(data_cfg: Any, split: str) -> CocoDataset:
    from asffbench.data.voc import DEFAULT_SETS, VOC_CLASSES, load_voc_split, parse_sets

    if data_cfg.name == "voc_synth":
        from asffbench.data.voc_write import ensure_voc_synth

        root, default_classes = ensure_voc_synth(synth_params(data_cfg), data_cfg.get("cache_dir")), SYNTH_CLASSES
    else:
        root, default_classes = voc_root(data_cfg), VOC_CLASSES
    classes = data_cfg.get("classes")
    classes = list(default_classes) if classes is None else [str(c) for c in classes]
    sets = parse_sets(data_cfg[split].get("sets"), f"data.{split}.sets", DEFAULT_SETS[split])
    return load_voc_split(root, sets, classes)


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
            root = ensure_synth(synth_params(data_cfg), data_cfg.get("cache_dir"))
            ann = ann or str(root / f"instances_{split}.json")
            images = images or str(root / split)
    elif name == "coco":
        if ann is None or images is None:
            root = dataset_root(data_cfg, "the COCO 2017 folder with annotations/, train2017/, val2017/")
            ann = ann or str(root / "annotations" / f"instances_{split}2017.json")
            images = images or str(root / f"{split}2017")
    elif name == "folder":
        for key, value in (("ann", ann), ("images", images)):
            if value is None:
                raise UserError(f"data.{split}.{key}: required for data=folder; set data.{split}.{key}=PATH")
    else:
        raise UserError(f"data.name={name}: unknown dataset kind; choose from coco, folder, synth, voc, voc_synth")
    ann_path, image_dir = Path(ann).expanduser(), Path(images).expanduser()
    if not ann_path.is_file():
        raise UserError(f"{ann_path}: annotation file not found (data.{split}.ann)")
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: image directory not found (data.{split}.images)")
    return ann_path, image_dir
