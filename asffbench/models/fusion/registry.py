"""The fusion registry: `fusion=<name>` picks a builder here, and its `FusionInfo` says what the
rest of the code needs to know about that fusion without building it.

A builder takes (in_channels, out_channels, options): the three neck level widths (stride 32,
16, 8), the widths each level must hand to its head, and the `FusionOptions` (every fusion
setting of the config, as plain values). Builders ignore the options they do not use; their
`FusionInfo` says which they use, so configs can tell a key that changes the model from one
that does not.
"""

from __future__ import annotations

from dataclasses import dataclass

from asffbench.models.registry import Registry

FUSIONS = Registry("fusion")


@dataclass(frozen=True)
class FusionOptions:
    """The fusion settings a builder may read (`fusion.*` of the config)."""

    compress_c: int = 16  # ASFF's weight-branch width
    upsample: str = "nearest"  # interpolation of the resize stage (and of BiFPN's top-down edges)
    pan_merge: str = "concat"  # how PAN's bottom-up step joins the lateral: concat | sum
    bifpn_layers: int = 1  # BiFPN repeats
    bifpn_weighting: str = "fast"  # BiFPN node inputs: fast (normalised ReLU) | softmax | sum
    bifpn_channels: int = 0  # BiFPN's common width; 0: the neck's stride-16 width
    # The conv units' activation (`ACTIVATIONS`): the backbone's (its `BackboneInfo.act`), ReLU6
    # for MobileNetV2 as in the reference's `ASFFmobile`; read by none, sum, concat and asff.
    act: str = "leaky"
    # The activation of the parts asffbench added beside the reference's (the PAN path, BiFPN,
    # the ASFF after a PAN, AFPN): the backbone's (`fusion.added_act=backbone`, the default), or
    # LeakyReLU whatever the backbone (`leaky`, what they were built with before the key existed).
    added_act: str = "leaky"
    # The form of PAN's bottom-up steps (`BOTTOM_UP_FORMS`): `conv` (conv units, `pan_merge`),
    # the YOLOv3 family's; `c2f` (stride-2 conv, concat, C2f of `c2f_repeats` bottlenecks), the
    # YOLOv8 family's own PAFPN.
    bottom_up: str = "conv"
    c2f_repeats: int = 1
    # The `conv` form's merge block after a concat (`PAN_BLOCKS`): `yolov4` (five conv units),
    # `csp` (YOLOv5's C3 of `csp_repeats` bottlenecks), `light` (three units, before the key).
    pan_block: str = "light"
    csp_repeats: int = 3
    # BiFPN's node conv (`BIFPN_CONVS`): `separable` (EfficientDet: activation on the fused sum,
    # depthwise-separable conv, BN) or `full` (3x3 conv unit, before the key); its input
    # (`BIFPN_INPUTS`): `backbone` (the taps, separate unactivated 1x1 projections) or `fpn`
    # (the family's top-down neck, one activated 1x1 per level, before the key).
    bifpn_conv: str = "full"
    bifpn_input: str = "fpn"
    # ASFF's weight branches (`ASFF_BLOCKS`): `original` (conv logits with bias) or `yolox_pai`
    # (a conv unit, BN + activation, before the softmax; EasyCV's YOLOX-PAI).
    asff_block: str = "original"


@dataclass(frozen=True)
class FusionInfo:
    """What a registered fusion is, for the code that configures, hashes and shows it."""

    adaptive: bool  # has per-pixel fusion weights (alpha, beta, gamma) to return and show
    uses_upsample: bool  # the resize stage's interpolation mode (`fusion.upsample`) changes it
    uses_compress_c: bool  # `fusion.compress_c` (the weight branch width) changes it
    uses_pan_merge: bool = False  # `fusion.pan_merge` changes it (it has a PAN bottom-up path)
    uses_bifpn: bool = False  # `fusion.bifpn_layers|bifpn_weighting|bifpn_channels` change it
    # Learned scalar weights per input edge of its nodes: its module's `edge_weights()` gives
    # them normalised (None when the configured weighting learns none), for metrics and report.
    edge_weights: bool = False
    enhanced: bool = False  # the paper's enhanced variant: RFB in the head and DropBlock in the neck by default
    default_compress_c: int = 16
    # It is a whole neck itself (AFPN): it takes the backbone's taps, and the family's neck is
    # left out of the model.
    replaces_neck: bool = False
    # It has parts asffbench added beside the reference's, built with `FusionOptions.added_act`
    # (`fusion.added_act` chooses it on the YOLOv3 family).
    uses_added_act: bool = False
    # `fusion.pan_block` changes it (its PAN path has the `conv` form's merge block), and the
    # block as published for it (pan: YOLOv4's; asff_pan: YOLOX-PAI's CSP PAN).
    uses_pan_block: bool = False
    default_pan_block: str = "yolov4"
    # `fusion.asff_block` changes it, and its weight branches as published (asff: the paper's).
    uses_asff_block: bool = False
    default_asff_block: str = "original"

    def takes_taps(self, options: FusionOptions) -> bool:
        """Whether it takes the backbone's taps (the family's neck left out): a whole neck itself,
        or a BiFPN on the backbone's features (`bifpn_input=backbone`, EfficientDet's)."""
        return self.replaces_neck or (self.uses_bifpn and options.bifpn_input == "backbone")


def fusion_info(name: str) -> FusionInfo:
    """The `FusionInfo` of a registered fusion; UnknownNameError (a KeyError) for an unknown one."""
    return FUSIONS.info(name)
