"""Config -> model for the YOLOv8 family (a backbone whose `BackboneInfo.family` is `yolov8`).

`build_yolov8(**kwargs)` assembles the family from registry parts: the backbone, its neck
(NECKS; left out under a fusion that is a whole neck, `FusionInfo.replaces_neck`), the fusion
(FUSIONS, with the family's activation and PAN form), the head (HEADS), then the family's
BatchNorm settings and the initialisation. `yolov8_kwargs_from_config(cfg)` maps a composed
config to those arguments, refusing in one line what the registries' facts say the family
cannot do. Building reads no file.
"""

from __future__ import annotations

from typing import Any, Optional

from asffbench.config.schema import choice_str
from asffbench.errors import UserError
from asffbench.models import (
    BACKBONES,
    FUSIONS,
    HEADS,
    NECKS,
    YOLOV8_SCALES,
    BackboneInfo,
    FusionInfo,
    ModelScale,
    TapsAsLevels,
    YOLOv8,
    backbone_info,
    fusion_info,
    initialise,
    set_batchnorm,
)
from asffbench.models.fusion import FusionOptions

STRIDES = (32, 16, 8)
HEAD_WIDTHS = (1024, 512, 256)  # the PAFPN's output widths at scale 1, stride 32, 16, 8
PAN_REPEATS = 3  # C2f repeats of the PAFPN's bottom-up blocks at depth 1


def model_scale(scale: str, width: Optional[float] = None, depth: Optional[float] = None) -> ModelScale:
    """The named scale with `width` / `depth` overriding its multipliers; ValueError if unknown."""
    if scale not in YOLOV8_SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose from {', '.join(YOLOV8_SCALES)}")
    named = YOLOV8_SCALES[scale]
    return ModelScale(depth=named.depth if depth is None else depth,
                      width=named.width if width is None else width, max_channels=named.max_channels)


def refusal(base: BackboneInfo, info: FusionInfo, pan_merge: str, rfb: bool, dropblock: bool) -> Optional[str]:
    """What of the asked fusion the family's backbone cannot have, from both entries' facts."""
    if not base.enhancements and (info.enhanced or rfb or dropblock):
        return "has none of ASFF*'s parts (enhanced fusion, RFB, DropBlock)"
    if info.uses_pan_merge and base.bottom_up == "c2f" and pan_merge != "concat":
        return f"has a PAN that concatenates (C2f steps), not pan_merge={pan_merge}"
    return None


def build_yolov8(
    *,
    backbone: str = "csp_darknet_v8",
    scale: str = "n",
    width: Optional[float] = None,
    depth: Optional[float] = None,
    num_classes: int = 80,
    fusion: str = "pan",
    compress_c: Optional[int] = None,
    upsample: str = "nearest",
    pan_merge: str = "concat",
    bifpn_layers: int = 1,
    bifpn_weighting: str = "fast",
    bifpn_channels: int = 0,
    init: str = "torch",
) -> YOLOv8:
    """A YOLOv8 of the named scale (`width`/`depth` override its multipliers) with the named
    fusion (`pan`: the family's own PAFPN). ValueError for what the family cannot have,
    KeyError (UnknownNameError) for an unknown fusion or initialisation."""
    base, info = backbone_info(backbone), fusion_info(fusion)
    refused = refusal(base, info, pan_merge, False, False)
    if refused:
        raise ValueError(f"the {base.family} family {refused}")
    sizes = model_scale(scale, width, depth)
    body = BACKBONES.build(backbone, sizes.width, sizes.depth, max_channels=sizes.max_channels)
    neck = TapsAsLevels(body.out_channels) if info.replaces_neck else NECKS.build(
        base.neck, body.out_channels, sizes, base.act)
    options = FusionOptions(
        compress_c=info.default_compress_c if compress_c is None else compress_c,
        upsample=upsample,
        pan_merge=pan_merge,
        bifpn_layers=bifpn_layers,
        bifpn_weighting=bifpn_weighting,
        bifpn_channels=bifpn_channels,
        act=base.act,
        added_act=base.act,
        bottom_up=base.bottom_up,
        c2f_repeats=sizes.repeats(PAN_REPEATS),
    )
    head_widths = tuple(sizes.channels(c) for c in HEAD_WIDTHS)
    fusion_module = FUSIONS.build(fusion, neck.out_channels, head_widths, options)
    head = HEADS.build(base.head, fusion_module.out_channels, num_classes, STRIDES, base.act)
    model = initialise(YOLOv8(body, neck, fusion_module, head), init, negative_slope=base.init_slope)
    head.initialise_biases()  # an initialisation that resets conv biases leaves the head's priors
    return set_batchnorm(model, base.bn_eps, base.bn_momentum)


def yolov8_kwargs_from_config(cfg: Any) -> dict[str, Any]:
    """The keyword arguments of `build_yolov8` for a composed config; UserError for an unknown
    scale or fusion, or a fusion setting the family cannot have."""
    backbone, fusion = str(cfg.model.backbone), str(cfg.fusion.name)
    if fusion not in FUSIONS:
        raise UserError(f"fusion.name={fusion}: unknown fusion; choose from {', '.join(sorted(FUSIONS.names()))}")
    scale = str(cfg.model.scale)
    if scale not in YOLOV8_SCALES:
        raise UserError(f"model.scale={scale}: unknown scale; choose from {', '.join(YOLOV8_SCALES)}")
    base = backbone_info(backbone)
    pan_merge = choice_str(cfg.fusion.pan_merge)
    refused = refusal(base, fusion_info(fusion), pan_merge, bool(cfg.fusion.rfb), bool(cfg.fusion.dropblock))
    if refused:
        raise UserError(f"fusion={fusion}: the {base.family} family (model.backbone={backbone}) {refused}")
    return {
        "backbone": backbone,
        "scale": scale,
        "width": None if cfg.model.width is None else float(cfg.model.width),
        "depth": None if cfg.model.depth is None else float(cfg.model.depth),
        "num_classes": int(cfg.model.num_classes),
        "fusion": fusion,
        "compress_c": int(cfg.fusion.compress_c),
        "upsample": choice_str(cfg.fusion.upsample),
        "pan_merge": pan_merge,
        "bifpn_layers": int(cfg.fusion.bifpn_layers),
        "bifpn_weighting": choice_str(cfg.fusion.bifpn_weighting),
        "bifpn_channels": int(cfg.fusion.bifpn_channels),
        "init": choice_str(cfg.recipe.init),
    }


def build_yolov8_from_config(cfg: Any) -> YOLOv8:
    return build_yolov8(**yolov8_kwargs_from_config(cfg))
