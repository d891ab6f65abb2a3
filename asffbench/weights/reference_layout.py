"""Tensor names of the paper's reference implementation, derived from an asffbench model.

`reference_names(model)` walks the model's parts and returns {asffbench state-dict key:
reference key} for every tensor, so the mapping follows the architecture (width, depth, classes,
RFB) instead of a table. The reference numbers its Darknet-53 and neck modules in one
`module_list`, in forward order, parameter-free modules (SPP, DropBlock slots, upsampling)
included; the baseline interleaves its expand convs and heads with the neck there, the ASFF
variants name them `level_<l>_fusion` / `level_<l>_header`. Its MobileNetV2 models number
torchvision's `features` as `module_list.0-18`, the neck after them, and name each level's
expand conv or ASFF block `level_<l>_conv` (baseline and ASFF alike). Pure: no file I/O.
"""

from __future__ import annotations

from typing import Iterator, Optional

from torch import nn

from asffbench.models.backbone import MobileNetV2Backbone
from asffbench.models.fusion.asff import ASFF, ASFFLevel
from asffbench.models.fusion.fpn import FPNFusion
from asffbench.models.fusion.resize import Downsample, Upsample
from asffbench.models.head.guided_anchoring import GuidedAnchorLevelHead
from asffbench.models.layers import RFB, ConvBNAct, ResidualBlock

Names = dict[str, str]
# The reference's conv unit registers its BatchNorm as `batch_norm`.
UNIT_CHILDREN = {"conv": "conv", "bn": "batch_norm"}
# Forward order of the neck's parts; the reference counts an upsample module after each lateral.
NECK_PARTS = ("path32", "lateral16", "upsample", "path16", "lateral8", "upsample", "path8")


class NoReferenceLayout(ValueError):
    """The model has a part the reference implementation does not have."""


def prefixed(ours: str, ref: str, names: Names) -> Names:
    return {f"{ours}.{key}": f"{ref}.{value}" for key, value in names.items()}


def same_names(module: nn.Module) -> Names:
    return {key: key for key in module.state_dict()}


def unit_names(unit: ConvBNAct) -> Names:
    names = {}
    for key in unit.state_dict():
        child, _, leaf = key.partition(".")
        names[key] = f"{UNIT_CHILDREN[child]}.{leaf}"
    return names


def residual_names(block: ResidualBlock) -> Names:
    """The reference's residual pair is a list of two conv units: 0 (1x1) and 1 (3x3)."""
    return {**prefixed("conv1", "0", unit_names(block.conv1)), **prefixed("conv2", "1", unit_names(block.conv2))}


def blocks_names(blocks: nn.Sequential) -> Names:
    """A run of residual blocks: the reference's `module_list.<b>` inside its entry."""
    names: Names = {}
    for index, block in enumerate(blocks):
        names.update(prefixed(str(index), f"module_list.{index}", residual_names(block)))
    return names


def entry_names(module: Optional[nn.Module]) -> Names:
    """One `module_list` entry of the backbone or neck: a conv unit, a residual pair, or nothing."""
    if module is None or not module.state_dict():
        return {}
    if isinstance(module, ConvBNAct):
        return unit_names(module)
    if isinstance(module, ResidualBlock):  # the reference wraps it as a run of one block
        return {key: f"module_list.0.{value}" for key, value in residual_names(module).items()}
    raise NoReferenceLayout(f"no reference name for a {type(module).__name__} in the neck")


def backbone_entries(backbone: nn.Module) -> Iterator[tuple[str, nn.Module, Names]]:
    """(our prefix, module, its names) per `module_list` entry: Darknet-53's 0 .. 10 (stem, then
    per stage down, blocks), or MobileNetV2's 0 .. 18 (torchvision's `features`, names as they are)."""
    if isinstance(backbone, MobileNetV2Backbone):
        for index, block in enumerate(backbone.features):
            yield f"features.{index}", block, same_names(block)
        return
    yield "stem", backbone.stem, unit_names(backbone.stem)
    for index, stage in enumerate(backbone.stages):
        yield f"stages.{index}.down", stage.down, unit_names(stage.down)
        yield f"stages.{index}.blocks", stage.blocks, blocks_names(stage.blocks)


def backbone_reference_names(backbone: nn.Module, prefix: str = "") -> Names:
    """Names of a backbone alone (the reference's ImageNet files use these)."""
    names: Names = {}
    for index, (ours, _module, local) in enumerate(backbone_entries(backbone)):
        names.update(prefixed(f"{prefix}{ours}", f"module_list.{index}", local))
    return names


def neck_entries(neck: nn.Module) -> Iterator[tuple[str, Optional[nn.Module]]]:
    """The neck's modules in forward order, each a `module_list` entry (None: upsampling)."""
    for part in NECK_PARTS:
        if part == "upsample":
            yield part, None
            continue
        module = getattr(neck, part)
        if isinstance(module, nn.Sequential):
            for index, child in enumerate(module):
                yield f"{part}.{index}", child
        else:
            yield part, module
        if part.startswith("path"):
            yield f"{part}:end", None  # marks a level's feature (where the baseline puts its head)


def asff_level_names(level: ASFFLevel) -> Names:
    names: Names = {}
    for source, resizer in enumerate(level.resize.resizers):
        if isinstance(resizer, Downsample):
            names.update(prefixed(f"resize.resizers.{source}.conv", f"stride_level_{source}", unit_names(resizer.conv)))
        elif isinstance(resizer, Upsample) and isinstance(resizer.compress, ConvBNAct):
            names.update(prefixed(f"resize.resizers.{source}.compress", f"compress_level_{source}",
                                  unit_names(resizer.compress)))
    for index, conv in enumerate(level.weight_convs):
        names.update(prefixed(f"weight_convs.{index}", f"weight_level_{index}", unit_names(conv)))
    names.update(prefixed("weight_logits", "weight_levels", same_names(level.weight_logits)))
    names.update(prefixed("expand", "expand", unit_names(level.expand)))
    return names


def rfb_names(rfb: RFB) -> Names:
    names: Names = {}
    for index, branch in enumerate(rfb.branches):
        names.update(prefixed(f"branches.{index}", f"branch_{index}", same_names(branch)))
    return names


def head_level_names(head: nn.Module) -> Names:
    if not isinstance(head, GuidedAnchorLevelHead):
        raise NoReferenceLayout("the reference implementation's heads use guided anchoring "
                                "(tricks.guided_anchoring=true)")
    adaption = head.adaption
    names = {
        **prefixed("shape", "guide_wh", same_names(head.shape)),
        **prefixed("pred", "conv", same_names(head.pred)),
    }
    if adaption is None:  # MobileNetV2's heads: no feature adaption
        return names
    names.update(prefixed("adaption.offset", "Feature_adaption.conv_offset", same_names(adaption.offset)))
    names.update(prefixed("adaption.deform", "Feature_adaption.dconv", same_names(adaption.deform)))
    if isinstance(adaption.rfb, RFB):
        names.update(prefixed("adaption.rfb", "Feature_adaption.rfb", rfb_names(adaption.rfb)))
    return names


def level_names(model: nn.Module, level: int, fusion_root: str) -> Names:
    """A level's ASFF block, or the baseline's expand conv (MobileNetV2's: every level grows), as
    `<fusion_root>`, and its head as `level_<l>_header`."""
    ours = f"fusion.levels.{level}"
    fusion = model.fusion.levels[level]
    if isinstance(fusion, ASFFLevel):
        names = prefixed(ours, fusion_root, asff_level_names(fusion))
    elif isinstance(fusion.expand, ConvBNAct):
        names = prefixed(f"{ours}.expand", fusion_root, unit_names(fusion.expand))
    else:
        names = {}
    head = head_level_names(model.head.levels[level])
    return {**names, **prefixed(f"head.levels.{level}", f"level_{level}_header", head)}


def reference_names(model: nn.Module) -> Names:
    """{asffbench key: reference key} for every tensor of `model` (NoReferenceLayout if none)."""
    mobile = isinstance(model.backbone, MobileNetV2Backbone)  # level blocks are `level_<l>_conv`
    interleaved = isinstance(model.fusion, FPNFusion) and not mobile  # Darknet baseline: heads in module_list
    if not isinstance(model.fusion, (FPNFusion, ASFF)):
        raise NoReferenceLayout(f"the reference implementation has no {type(model.fusion).__name__}, so no "
                                "reference checkpoint exists for it (its models: YOLOv3 baseline, ASFF, ASFF*)")
    names = backbone_reference_names(model.backbone, "backbone.")
    index = sum(1 for _ in backbone_entries(model.backbone))  # the neck's first entry
    level = 0
    for ours, module in neck_entries(model.neck):
        if not ours.endswith(":end"):
            names.update(prefixed(f"neck.{ours}", f"module_list.{index}", entry_names(module)))
            index += 1
            continue
        head = head_level_names(model.head.levels[level])
        if interleaved:
            expand = model.fusion.levels[level].expand
            if isinstance(expand, ConvBNAct):  # the baseline's 3x3 before the head, where width grows
                names.update(prefixed(f"fusion.levels.{level}.expand", f"module_list.{index}", unit_names(expand)))
                index += 1
            names.update(prefixed(f"head.levels.{level}", f"module_list.{index}", head))
            index += 1
        else:
            names.update(level_names(model, level, f"level_{level}_conv" if mobile else f"level_{level}_fusion"))
        level += 1
    missing = [key for key in model.state_dict() if key not in names]
    if missing:
        raise NoReferenceLayout(f"no reference name for {missing[0]}")
    return names
