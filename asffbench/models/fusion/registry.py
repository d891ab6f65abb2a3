"""The fusion registry: `fusion=<name>` picks a builder here, and its `FusionInfo` says what the
rest of the code needs to know about that fusion without building it.

A builder takes (in_channels, out_channels, compress_c, upsample, act): the three neck level
widths (stride 32, 16, 8), the widths each level must hand to its head, the ASFF weight width,
the interpolation mode of the resize stage and the conv units' activation (`ACTIVATIONS`: the
backbone's, ReLU6 for MobileNetV2 as in the reference's `ASFFmobile`). Builders that do not use an argument ignore it; their
`FusionInfo` says which they use, so configs can tell a key that changes the model from one
that does not.
"""

from __future__ import annotations

from dataclasses import dataclass

from asffbench.models.registry import Registry

FUSIONS = Registry("fusion")


@dataclass(frozen=True)
class FusionInfo:
    """What a registered fusion is, for the code that configures, hashes and shows it."""

    adaptive: bool  # has per-pixel fusion weights (alpha, beta, gamma) to return and show
    uses_upsample: bool  # the resize stage's interpolation mode (`fusion.upsample`) changes it
    uses_compress_c: bool  # `fusion.compress_c` (the weight branch width) changes it
    enhanced: bool = False  # the paper's enhanced variant: RFB in the head and DropBlock in the neck by default
    default_compress_c: int = 16


def fusion_info(name: str) -> FusionInfo:
    """The `FusionInfo` of a registered fusion; UnknownNameError (a KeyError) for an unknown one."""
    return FUSIONS.info(name)
