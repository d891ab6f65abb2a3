"""Config -> model for the YOLOv8 family (a backbone whose `BackboneInfo.family` is `yolov8`).

`build_yolov8(**kwargs)` assembles the family from registry parts: the backbone, its neck
(NECKS; left out under a fusion that takes the taps, `FusionInfo.takes_taps`), the fusion
(FUSIONS, its options from build_fusion.py), the head (HEADS), then the family's
BatchNorm settings and the initialisation. `yolov8_kwargs_from_config(cfg)` maps a composed
config to those arguments, refusing in one line what the registries' facts say the family
cannot do. Building reads no file.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Optional

from asffbench.build_fusion import FusionSettings, fusion_options, fusion_refusal, fusion_settings_from_config
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
from asffbench.models.neck.yolov8_top_down import TOP_DOWN_WIDTHS

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


def refusal(base: BackboneInfo, info: FusionInfo, settings: FusionSettings, rfb: bool,
            dropblock: bool) -> Optional[str]:
    """What of the asked fusion the family's backbone cannot have, from both entries' facts."""
    if not base.enhancements and (info.enhanced or rfb or dropblock):
        return "has none of ASFF*'s parts (enhanced fusion, RFB, DropBlock)"
    return fusion_refusal(base, info, settings)


def build_yolov8(
    *,
    backbone: str = "csp_darknet_v8",
    scale: str = "n",
    width: Optional[float] = None,
    depth: Optional[float] = None,
    num_classes: int = 80,
    fusion: str = "pan",
    init: str = "torch",
    **fusion_settings: Any,
) -> YOLOv8:
    """A YOLOv8 of the named scale (`width`/`depth` override its multipliers) with the named
    fusion (`pan`: the family's own PAFPN); `fusion_settings` are `FusionSettings`' fields
    (build_fusion.py), each left out the fusion's published default. ValueError for what the
    family cannot have, KeyError (UnknownNameError) for an unknown fusion or initialisation."""
    base, info = backbone_info(backbone), fusion_info(fusion)
    settings = FusionSettings(**fusion_settings)
    refused = refusal(base, info, settings, False, False)
    if refused:
        raise ValueError(f"the {base.family} family {refused}")
    sizes = model_scale(scale, width, depth)
    options = fusion_options(info, base, settings, neck_width16=sizes.channels(TOP_DOWN_WIDTHS[0]),
                             depth=sizes.depth, c2f_repeats=sizes.repeats(PAN_REPEATS))
    body = BACKBONES.build(backbone, sizes.width, sizes.depth, max_channels=sizes.max_channels)
    # A fusion that is a whole neck itself (AFPN), or EfficientDet's BiFPN, takes the backbone's taps.
    neck = TapsAsLevels(body.out_channels) if info.takes_taps(options) else NECKS.build(
        base.neck, body.out_channels, sizes, base.act)
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
    settings = fusion_settings_from_config(cfg)
    refused = refusal(base, fusion_info(fusion), settings, bool(cfg.fusion.rfb), bool(cfg.fusion.dropblock))
    if refused:
        raise UserError(f"fusion={fusion}: the {base.family} family (model.backbone={backbone}) {refused}")
    return {
        "backbone": backbone,
        "scale": scale,
        "width": None if cfg.model.width is None else float(cfg.model.width),
        "depth": None if cfg.model.depth is None else float(cfg.model.depth),
        "num_classes": int(cfg.model.num_classes),
        "fusion": fusion,
        "init": choice_str(cfg.recipe.init),
        **asdict(settings),
    }


def build_yolov8_from_config(cfg: Any) -> YOLOv8:
    return build_yolov8(**yolov8_kwargs_from_config(cfg))
