"""COCO-format datasets, the synthetic tiny COCO, augmentation and loaders.

Entry points (DESIGN.md): `build_train_loader(cfg, rank=0, world_size=1)` and
`build_val_loader(cfg) -> (loader, dataset)`. Loaders yield `(images (B, 3, S, S), targets
(M, 7) [image_index, label, x1, y1, x2, y2, weight], metas)`; datasets expose `coco`,
`label_to_cat_id`, `class_names` and `num_classes`.
"""

from asffbench.data.coco import CocoDataset
from asffbench.data.dataset import DetectionDataset, collate
from asffbench.data.loaders import DetectionLoader, build_train_loader, build_val_loader
from asffbench.data.sampler import DetectionBatchSampler, SampleKey, ScaleSchedule
from asffbench.data.synth import SynthParams, ensure_synth, generate_synth

__all__ = [
    "CocoDataset",
    "DetectionBatchSampler",
    "DetectionDataset",
    "DetectionLoader",
    "SampleKey",
    "ScaleSchedule",
    "SynthParams",
    "build_train_loader",
    "build_val_loader",
    "collate",
    "ensure_synth",
    "generate_synth",
]
