"""The backbone registry: `model.backbone=<name>` picks a builder here, and its `BackboneInfo`
says how the rest of the model is built around it (what the reference built on it).

A builder takes (width, depth) (the YOLOv8 family's also `max_channels`) and returns a module
whose forward gives the stride 8, 16 and 32 taps and whose `out_channels` are their widths.
Builders that do not use an argument ignore it. The backbone names the model family built on it
(`family`: the config-to-model builder build.py picks) and that family's parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from asffbench.models.backbone.csp_darknet_v8 import CSPDarknetV8
from asffbench.models.backbone.darknet import Darknet53
from asffbench.models.backbone.mobilenetv2 import MobileNetV2Backbone
from asffbench.models.init import DARKNET_SLOPE
from asffbench.models.input_norm import IMAGENET_NORM, UNIT_RANGE, InputNorm
from asffbench.models.registry import Registry
from asffbench.models.scaling import ModelScale

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
    uses_scale: bool = False  # `model.scale` (named depth, width and channel cap) changes it
    # The model family built on it: `yolov3` (its builder builds YOLOv3Neck and the anchor-based
    # YOLOHead itself) or `yolov8` (the neck `neck` of NECKS, the head `head` of HEADS).
    family: str = "yolov3"
    neck: str = ""
    head: str = ""
    bottom_up: str = "conv"  # `FusionOptions.bottom_up`: the form of `fusion=pan`'s steps
    # `fusion.added_act` chooses its added necks' activation (the YOLOv3 family, whose added
    # necks had LeakyReLU before the key); False: they always take the family's own (`act`).
    added_act_choice: bool = True
    # BatchNorm of every unit in the model (ultralytics sets them model-wide after building).
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    # The input pixels its weights expect (data pipeline, every command): ImageNet mean/std, or
    # ultralytics' plain RGB / 255 for the YOLOv8 family, whose released checkpoints need it.
    input_norm: InputNorm = IMAGENET_NORM


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


# YOLOv8's CSP-Darknet (C2f stages, SPPF, SiLU): the anchor-free family, BN eps 1e-3 momentum
# 0.03; it has none of ASFF*'s parts; its input is RGB / 255, not ImageNet-normalised.
@BACKBONES.register(
    "csp_darknet_v8",
    BackboneInfo(act="silu", init_slope=0.0, stride8_expand=False, feature_adaption=False,
                 enhancements=False, uses_depth=True, uses_scale=True, family="yolov8", neck="yolov8_top_down",
                 head="anchor_free", bottom_up="c2f", added_act_choice=False, bn_eps=1e-3, bn_momentum=0.03,
                 input_norm=UNIT_RANGE),
)
def build_csp_darknet_v8(width: float, depth: float, max_channels: int = 1024) -> CSPDarknetV8:
    return CSPDarknetV8(ModelScale(depth=depth, width=width, max_channels=max_channels), act="silu")


def backbone_info(name: str) -> BackboneInfo:
    """The `BackboneInfo` of a registered backbone; UnknownNameError (a KeyError) for an unknown one."""
    return BACKBONES.info(name)
