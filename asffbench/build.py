"""Config -> model: map a composed config to the detector's constructor arguments.

`build_model(cfg)` is the entry point of the other layers; `build_yolov3(**kwargs)` is the same
builder at keyword level (tests and notebooks build models without Hydra). Building reads no
file: weights are loaded by `asffbench.weights.load` afterwards.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Callable, Optional, Sequence

from omegaconf import OmegaConf
from torch import nn

from asffbench.anchors import ANCHOR_SETS, DEFAULT_ANCHORS, resolve_anchors
from asffbench.build_fusion import FusionSettings, fusion_options, fusion_refusal, fusion_settings_from_config
from asffbench.build_yolov8 import build_yolov8_from_config
from asffbench.config.schema import choice_str
from asffbench.device import device_kind_of
from asffbench.errors import UserError
from asffbench.models import (
    BACKBONES,
    FUSIONS,
    BackboneInfo,
    TapsAsLevels,
    YOLOHead,
    YOLOv3,
    YOLOv3Neck,
    backbone_info,
    fusion_info,
    initialise,
)
from asffbench.models.fusion.resize import UPSAMPLE_MODES
from asffbench.models.layers import SCHEDULE_EPOCHS, resolve_deform_conv, scale_channels

STRIDES = (32, 16, 8)
# Widths each level hands to its head at width 1 (the expand conv's output), stride 32, 16, 8.
HEAD_WIDTHS = (1024, 512, 256)
NECK_WIDTH16 = 256  # YOLOv3Neck's stride-16 level width at width 1
# DropBlock's slots are in the YOLOv3 neck, which a fusion taking the backbone's taps leaves out.
NECKLESS_DROPBLOCK = ("takes the backbone's taps, leaving out the neck that holds DropBlock's slots "
                      "(set fusion.dropblock=false, or fusion.bifpn_input=fpn for BiFPN)")


def build_yolov3(
    *,
    backbone: str = "darknet53",
    fusion: str = "asff",
    width: float = 1.0,
    depth: float = 1.0,
    num_classes: int = 80,
    anchors: Optional[Sequence[Sequence[float]]] = None,
    guided_anchoring: bool = True,
    rfb: Optional[bool] = None,
    dropblock: Optional[bool] = None,
    dropblock_keep_prob: float = 0.9,
    dropblock_epochs: int = SCHEDULE_EPOCHS,
    deform_conv: str = "torchvision",
    dropblock_form: str = "torchvision",
    init: str = "torch",
    **fusion_settings: Any,
) -> YOLOv3:
    """A YOLOv3 on the named backbone with the named fusion; defaults are the paper's full-size
    model. The backbone's `BackboneInfo` sets the rest of the model's build (activation, neck
    end, head's feature adaption, init slope) and refuses parts it has none of (ValueError).

    `fusion_settings` are `FusionSettings`' fields (build_fusion.py: `compress_c`, `upsample`,
    `pan_merge`, `pan_block`, `bifpn_*`, `asff_block`, `added_act`); left out or None, each is
    the fusion's default as published (its `FusionInfo`: compress_c 8 for the enhanced
    `asff_star`). `rfb` and `dropblock` left at None are on for the enhanced fusions only, like
    the `fusion=` config presets. `deform_conv` names guided anchoring's deformable-conv implementation (`DEFORM_CONVS`).
    `dropblock_epochs` is the run length DropBlock's epoch schedule is spread over (the paper's
    5 / 80 / 150 are for 300). `dropblock_form`: torchvision's drop or the reference's
    (`DROPBLOCK_FORMS`); `init`: the initialisation applied to the built model (`INITS`:
    `torch` defaults or the reference's). Raises KeyError (UnknownNameError) for an unknown
    fusion or initialisation.
    """
    fusion_builder = FUSIONS.get(fusion)
    info = fusion_info(fusion)
    base = backbone_info(backbone)
    settings = FusionSettings(**fusion_settings)
    refused_setting = fusion_refusal(base, info, settings)
    if refused_setting:
        raise ValueError(f"the {base.family} family {refused_setting}")
    options = fusion_options(info, base, settings, neck_width16=scale_channels(NECK_WIDTH16, width), depth=depth)
    enhanced = info.enhanced
    rfb = enhanced if rfb is None else rfb
    dropblock = enhanced if dropblock is None else dropblock
    refused = unsupported_parts(base, enhanced, rfb, dropblock)
    if refused:
        raise ValueError(f"backbone {backbone!r} has no {refused[0]}")
    if dropblock and info.takes_taps(options):
        raise ValueError(f"fusion {fusion!r} {NECKLESS_DROPBLOCK}")
    body = BACKBONES.build(backbone, width, depth)
    # A fusion that is a whole neck itself (AFPN), or EfficientDet's BiFPN, takes the backbone's taps.
    neck = TapsAsLevels(body.out_channels) if info.takes_taps(options) else YOLOv3Neck(
        body.out_channels,
        width=width,
        dropblock=dropblock,
        dropblock_keep_prob=dropblock_keep_prob,
        dropblock_epochs=dropblock_epochs,
        dropblock_form=dropblock_form,
        act=base.act,
        stride8_expand=base.stride8_expand,
    )
    head_widths = tuple(scale_channels(c, width) for c in HEAD_WIDTHS)
    fusion_module = fusion_builder(neck.out_channels, head_widths, options)
    head = YOLOHead(
        fusion_module.out_channels,
        num_classes,
        resolve_anchors(ANCHOR_SETS[DEFAULT_ANCHORS] if anchors is None else anchors),
        strides=STRIDES,
        guided_anchoring=guided_anchoring,
        rfb=rfb,
        deform_conv=deform_conv,
        feature_adaption=base.feature_adaption,
    )
    return initialise(YOLOv3(body, neck, fusion_module, head), init, negative_slope=base.init_slope)


def unsupported_parts(base: BackboneInfo, enhanced: bool, rfb: bool, dropblock: bool) -> list[str]:
    """What of ASFF*'s parts was asked for on a backbone without them (its `BackboneInfo`)."""
    if base.enhancements:
        return []
    asked = {"enhanced fusion (ASFF*)": enhanced, "RFB (fusion.rfb)": rfb, "DropBlock (fusion.dropblock)": dropblock}
    return [part for part, on in asked.items() if on]


def model_kwargs_from_config(cfg: Any) -> dict[str, Any]:
    """The keyword arguments of `build_yolov3` for a composed config; UserError for a fusion or
    upsampling mode the model registry does not know, or a width or depth left to a scale."""
    fusion_name = str(cfg.fusion.name)
    if fusion_name not in FUSIONS:
        choices = ", ".join(sorted(FUSIONS.names()))
        raise UserError(f"fusion.name={fusion_name}: unknown fusion; choose from {choices}")
    backbone = str(cfg.model.backbone)
    if backbone not in BACKBONES:
        raise UserError(f"model.backbone={backbone}: unknown backbone; choose from {', '.join(BACKBONES.names())}")
    refused = unsupported_parts(backbone_info(backbone), fusion_info(fusion_name).enhanced,
                                bool(cfg.fusion.rfb), bool(cfg.fusion.dropblock))
    if refused:
        raise UserError(f"model.backbone={backbone}: the reference has no {refused[0]} on this backbone")
    upsample = choice_str(cfg.fusion.upsample)
    if upsample not in UPSAMPLE_MODES:
        raise UserError(f"fusion.upsample={upsample}: invalid value; choose from {', '.join(UPSAMPLE_MODES)}")
    for key in ("width", "depth"):
        if cfg.model[key] is None:
            raise UserError(f"model.{key}=null: the yolov3 family has no named scales; give a number")
    settings = fusion_settings_from_config(cfg)
    refused_setting = fusion_refusal(backbone_info(backbone), fusion_info(fusion_name), settings)
    if refused_setting:
        raise UserError(f"fusion={fusion_name}: the yolov3 family (model.backbone={backbone}) {refused_setting}")
    options = fusion_options(fusion_info(fusion_name), backbone_info(backbone), settings,
                             neck_width16=NECK_WIDTH16, depth=float(cfg.model.depth))
    if bool(cfg.fusion.dropblock) and fusion_info(fusion_name).takes_taps(options):
        raise UserError(f"fusion.dropblock=true: fusion={fusion_name} {NECKLESS_DROPBLOCK}")
    # The values themselves were checked when the config was composed (config/validate.py).
    anchors = anchors_from_config(cfg)
    return {
        "backbone": backbone,
        "fusion": fusion_name,
        "width": float(cfg.model.width),
        "depth": float(cfg.model.depth),
        "num_classes": int(cfg.model.num_classes),
        "anchors": anchors,
        **asdict(settings),
        "guided_anchoring": bool(cfg.tricks.guided_anchoring),
        "rfb": bool(cfg.fusion.rfb),
        "dropblock": bool(cfg.fusion.dropblock),
        "dropblock_keep_prob": float(cfg.fusion.dropblock_keep_prob),
        "dropblock_epochs": max(1, int(cfg.train.epochs)),  # train.epochs=0 (evaluate given weights)
        "deform_conv": resolved_deform_conv(cfg),
        "dropblock_form": choice_str(cfg.recipe.dropblock),
        "init": choice_str(cfg.recipe.init),
    }


def resolved_deform_conv(cfg: Any) -> str:
    """`model.deform_conv` with `auto` resolved for the config's device (what the records hold).
    A named one (a run's config holds the name it resolved once) needs no device lookup."""
    choice = choice_str(cfg.model.deform_conv)
    if choice != "auto":
        return choice  # a DeformConv value: the schema checked it
    return resolve_deform_conv(choice, device_kind_of(cfg.device))


def anchors_from_config(cfg: Any) -> list[list[float]]:
    """`model.anchors` (a set's name or 9 pairs) as nine [w, h] pairs; UserError when invalid."""
    raw = cfg.model.anchors
    value = OmegaConf.to_container(raw) if OmegaConf.is_config(raw) else raw
    try:
        return resolve_anchors(value)
    except ValueError as err:
        raise UserError(f"model.anchors: {err}") from None


def build_yolov3_from_config(cfg: Any) -> YOLOv3:
    return build_yolov3(**model_kwargs_from_config(cfg))


# The config-to-model builder of each model family (`BackboneInfo.family` of model.backbone).
FAMILY_BUILDERS: dict[str, Callable[[Any], nn.Module]] = {
    "yolov3": build_yolov3_from_config,
    "yolov8": build_yolov8_from_config,
}


def model_family(cfg: Any) -> str:
    """The family of the configured backbone; UserError for an unknown backbone."""
    backbone = str(cfg.model.backbone)
    if backbone not in BACKBONES:
        raise UserError(f"model.backbone={backbone}: unknown backbone; choose from {', '.join(BACKBONES.names())}")
    return backbone_info(backbone).family


def build_model(cfg: Any) -> YOLOv3:
    """The detector of a composed config (a `YOLOv3`, or its `YOLOv8` subclass: the family its
    backbone names), as initialised: it reads no file. The weights a command uses are a separate
    step (`weights.resolve.resolve_weights`, `weights.load.load_source`)."""
    return FAMILY_BUILDERS[model_family(cfg)](cfg)
