"""Tensor names of ultralytics' YOLOv8 detection models, derived from an asffbench YOLOv8.

`ultralytics_names(model)` walks the model's parts and returns {asffbench key: ultralytics key}
for every tensor. Ultralytics numbers its modules `model.<i>` in yolov8.yaml's order: the ten
backbone layers (ours `backbone.layers.<i>`), the top-down neck (its C2f blocks 12 and 15 are
our `neck.blocks.0/1`; upsampling and concatenations hold no tensors), the PAN's bottom-up path
(16 / 18 and 19 / 21: our `fusion.path.steps.<k>.down / merge`), then the head (22), whose
levels it numbers from stride 8 (`cv2.<j>` box, `cv3.<j>` class; ours `box_branches` /
`class_branches` from stride 32). Inside the blocks the children carry other names (C2f: split
cv1, blocks m, merge cv2; bottleneck conv1 cv1, conv2 cv2; SPPF reduce cv1, merge cv2).
Only the family's own model (`fusion=pan`) has such a layout: `NoUltralyticsLayout` otherwise.
`file_mismatch(model, state, names)` names a file's other scale in one line. Pure.
"""

from __future__ import annotations

import re
from typing import Mapping, Optional

from torch import Tensor, nn

from asffbench.models import YOLOv8, YOLOv8TopDown
from asffbench.models.fusion.pan import PANFusion
from asffbench.models.fusion.pan_c2f import C2fBottomUpPath

Names = dict[str, str]
CHILD_NAMES = {"split": "cv1", "merge": "cv2", "blocks": "m", "conv1": "cv1", "conv2": "cv2", "reduce": "cv1"}
NECK_OFFSETS = (2, 5)  # the top-down C2f blocks, counted from the first module after the backbone
PAN_OFFSET = 6  # the first bottom-up module; each step is down, concat, merge
HEAD_OFFSET = 12


class NoUltralyticsLayout(ValueError):
    """The model has a part ultralytics' YOLOv8 does not have."""


def renamed(key: str) -> str:
    return ".".join(CHILD_NAMES.get(part, part) for part in key.split("."))


def block_names(ours: str, theirs: str, module: nn.Module) -> Names:
    return {f"{ours}.{key}": f"{theirs}.{renamed(key)}" for key in module.state_dict()}


def head_names(model: YOLOv8, index: int) -> Names:
    head = model.head
    levels = len(head.box_branches)
    names: Names = {}
    for ours, theirs in (("box_branches", "cv2"), ("class_branches", "cv3")):
        for level, branch in enumerate(getattr(head, ours)):
            names.update({f"head.{ours}.{level}.{key}": f"model.{index}.{theirs}.{levels - 1 - level}.{key}"
                          for key in branch.state_dict()})
    names.update({f"head.dfl.{key}": f"model.{index}.dfl.{key}" for key in head.dfl.state_dict()})
    return names


def ultralytics_names(model: nn.Module) -> Names:
    """{asffbench key: ultralytics key} for every tensor of `model` (NoUltralyticsLayout if none)."""
    if not isinstance(model, YOLOv8) or not isinstance(model.neck, YOLOv8TopDown):
        raise NoUltralyticsLayout("only the YOLOv8 family with its own neck has ultralytics' layout")
    fusion = model.fusion
    if not (isinstance(fusion, PANFusion) and isinstance(fusion.path, C2fBottomUpPath)
            and not fusion.expand.state_dict()):
        raise NoUltralyticsLayout(f"ultralytics' YOLOv8 has no {type(fusion).__name__} (its neck is fusion=pan)")
    names: Names = {}
    for index, layer in enumerate(model.backbone.layers):
        names.update(block_names(f"backbone.layers.{index}", f"model.{index}", layer))
    first = len(model.backbone.layers)
    for block_index, (block, offset) in enumerate(zip(model.neck.blocks, NECK_OFFSETS)):
        names.update(block_names(f"neck.blocks.{block_index}", f"model.{first + offset}", block))
    for step_index, step in enumerate(fusion.path.steps):
        down = first + PAN_OFFSET + 3 * step_index
        names.update(block_names(f"fusion.path.steps.{step_index}.down", f"model.{down}", step.down))
        names.update(block_names(f"fusion.path.steps.{step_index}.merge", f"model.{down + 2}", step.merge))
    names.update(head_names(model, first + HEAD_OFFSET))
    missing = [key for key in model.state_dict() if key not in names]
    if missing:
        raise NoUltralyticsLayout(f"no ultralytics name for {missing[0]}")
    return names


def file_mismatch(model: nn.Module, state: Mapping[str, Tensor], names: Names) -> Optional[str]:
    """The file's other scale (stem width, then the first C2f's depth), in words; None if it
    matches. (Its class count: `UltralyticsCheckpoint.check_builds`.)"""
    stem = "backbone.layers.0.conv.weight"
    theirs, ours_stem = state.get(names[stem]), model.state_dict()[stem]
    if theirs is not None and theirs.shape[0] != ours_stem.shape[0]:
        return (f"its stem has {theirs.shape[0]} channels, the configured model's {ours_stem.shape[0]} "
                "(another model.scale or model.width)")
    blocks = sum(1 for key in state if re.match(r"^model\.2\.m\.\d+\.cv1\.conv\.weight$", key))
    ours = len(model.backbone.layers[2].blocks)
    if blocks and blocks != ours:
        return (f"its first C2f has {blocks} bottlenecks, the configured model's {ours} "
                "(another model.scale or model.depth)")
    return None
