"""The backbone registry: `model.backbone=<name>` picks a builder here, and its `BackboneInfo`
says how the rest of the model is built around it (what the reference built on it).

A builder takes (width, depth) and returns a module whose forward gives the stride 8, 16 and 32
taps and whose `out_channels` are their widths. Builders that do not use an argument ignore it.
"""

from __future__ import annotations

from dataclasses import dataclass

from asffbench.models.backbone.darknet import Darknet53
from asffbench.models.backbone.mobilenetv2 import MobileNetV2Backbone
from asffbench.models.init import DARKNET_SLOPE
from asffbench.models.registry import Registry

BACKBONES = Registry("backbone")


@dataclass(frozen=True)
class BackboneInfo:
    """How a detector is built on a backbone, for the builder and the config checks."""

    act: str  # activation of the neck's, fusion's conv units (`ACTIVATIONS`)
    init_slope: float  # `recipe.init=reference`: the kaiming gain's negative slope
    stride8_expand: bool  # the neck's stride-8 path ends in a 3x3 conv to 256 (level width 256, not 128)
    feature_adaption: bool  # the guided head adapts features with a deformable conv
    # ASFF*'s parts exist on it: the enhanced fusions, RFB in the head, DropBlock in the neck.
    enhancements: bool
    uses_depth: bool  # `model.depth` changes it
    # The head of HEADS its family is built with (empty: the YOLOv3 family's builder builds the
    # anchor-based YOLOHead itself); its `HeadInfo` tells the loss and the decode what it returns.
    head: str = ""


@BACKBONES.register(
    "darknet53",
    BackboneInfo(act="leaky", init_slope=DARKNET_SLOPE, stride8_expand=True, feature_adaption=True,
                 enhancements=True, uses_depth=True),
)
def build_darknet53(width: float, depth: float) -> Darknet53:
    return Darknet53(width=width, depth=depth)


# The reference's MobileNetV2 models: ReLU6 neck, `ressepblock` units, heads without feature
# adaption, no RFB, DropBlock nor ASFF*; its `init_yolo` uses a = 0 there.
@BACKBONES.register(
    "mobilenetv2",
    BackboneInfo(act="relu6", init_slope=0.0, stride8_expand=False, feature_adaption=False,
                 enhancements=False, uses_depth=False),
)
def build_mobilenetv2(width: float, depth: float) -> MobileNetV2Backbone:
    return MobileNetV2Backbone(width=width)


def backbone_info(name: str) -> BackboneInfo:
    """The `BackboneInfo` of a registered backbone; UnknownNameError (a KeyError) for an unknown one."""
    return BACKBONES.info(name)
