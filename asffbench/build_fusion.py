"""The fusion settings (`fusion.*` of the config) as plain values, and the `FusionOptions` both
model families build from them: one place, so each key means the same on either family.

`FusionSettings` holds what the config asks (None: the fusion's default as published, its
`FusionInfo`); `fusion_options` resolves it against the fusion's and the backbone's registry
facts; `fusion_refusal` says in one line what of it the family has no definition for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from asffbench.config.schema import choice_str
from asffbench.models import BackboneInfo, FusionInfo
from asffbench.models.fusion import FusionOptions

CSP_REPEATS = 3  # bottlenecks of a PAN's C3 at depth 1 (YOLOv5's head)


@dataclass(frozen=True)
class FusionSettings:
    """The `fusion.*` keys that shape the fusion; None takes the fusion's published default."""

    compress_c: Optional[int] = None  # FusionInfo.default_compress_c
    upsample: str = "nearest"
    pan_merge: str = "concat"
    pan_block: Optional[str] = None  # FusionInfo.default_pan_block
    bifpn_layers: int = 1
    bifpn_weighting: str = "fast"
    bifpn_channels: int = 0  # 0: the family neck's stride-16 width
    bifpn_conv: str = "separable"
    bifpn_input: str = "backbone"
    asff_block: Optional[str] = None  # FusionInfo.default_asff_block
    added_act: str = "backbone"  # or `leaky` (the YOLOv3 family's added parts before the key)


def fusion_settings_from_config(cfg: Any) -> FusionSettings:
    """The `FusionSettings` of a composed config (its values were checked when it was composed)."""
    fusion = cfg.fusion
    return FusionSettings(
        compress_c=int(fusion.compress_c),
        upsample=choice_str(fusion.upsample),
        pan_merge=choice_str(fusion.pan_merge),
        pan_block=choice_str(fusion.pan_block),
        bifpn_layers=int(fusion.bifpn_layers),
        bifpn_weighting=choice_str(fusion.bifpn_weighting),
        bifpn_channels=int(fusion.bifpn_channels),
        bifpn_conv=choice_str(fusion.bifpn_conv),
        bifpn_input=choice_str(fusion.bifpn_input),
        asff_block=choice_str(fusion.asff_block),
        added_act=choice_str(fusion.added_act),
    )


def fusion_refusal(base: BackboneInfo, info: FusionInfo, settings: FusionSettings) -> Optional[str]:
    """What of the settings the backbone's family has no definition for (both entries' facts), as
    the end of a sentence that starts with the family; None when all is defined."""
    own_pan = base.bottom_up != "conv"  # the family's PAN steps are its own (YOLOv8's C2f)
    if info.uses_pan_merge and own_pan and settings.pan_merge != "concat":
        return f"has a PAN that concatenates ({base.bottom_up} steps), not pan_merge={settings.pan_merge}"
    block = settings.pan_block or info.default_pan_block
    if info.uses_pan_block and own_pan and block != info.default_pan_block:
        return f"has its own PAN blocks ({base.bottom_up}); fusion.pan_block={block} is the conv-form PAN's"
    if not base.added_act_choice and settings.added_act != "backbone":
        return (f"builds the added necks with its own activation ({base.act}); "
                f"fusion.added_act={settings.added_act} is not defined for it")
    return None


def fusion_options(info: FusionInfo, base: BackboneInfo, settings: FusionSettings, *, neck_width16: int,
                   depth: float, c2f_repeats: int = 1) -> FusionOptions:
    """The options a fusion builder reads: the settings with the published defaults filled in,
    the backbone's activations, its PAN form; `neck_width16` (the family neck's stride-16
    width) is BiFPN's width where `bifpn_channels` is 0, `depth` scales the C3 repeats."""
    return FusionOptions(
        compress_c=info.default_compress_c if settings.compress_c is None else settings.compress_c,
        upsample=settings.upsample,
        pan_merge=settings.pan_merge,
        bifpn_layers=settings.bifpn_layers,
        bifpn_weighting=settings.bifpn_weighting,
        bifpn_channels=settings.bifpn_channels or neck_width16,
        act=base.act,
        added_act=base.act if settings.added_act == "backbone" else settings.added_act,
        bottom_up=base.bottom_up,
        c2f_repeats=c2f_repeats,
        pan_block=settings.pan_block or info.default_pan_block,
        csp_repeats=max(round(CSP_REPEATS * depth), 1),
        bifpn_conv=settings.bifpn_conv,
        bifpn_input=settings.bifpn_input,
        asff_block=settings.asff_block or info.default_asff_block,
    )
