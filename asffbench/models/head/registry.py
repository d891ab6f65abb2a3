"""The head registry (`BackboneInfo.head` names the entry of a family built from registries).

A builder takes (the level widths, stride 32, 16, 8; the number of classes; the strides; the
activation) and returns a module mapping the level features to one raw output per level. Its
`HeadInfo` says what those outputs are, for the code that picks a loss and a decode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from asffbench.models.head.anchor_free import REG_MAX, AnchorFreeHead
from asffbench.models.registry import Registry

HEADS = Registry("head")


@dataclass(frozen=True)
class HeadInfo:
    anchor_free: bool  # levels are `AnchorFreeLevel`s (else `LevelOutput`s with anchors)
    reg_max: int = 0  # distance bins per box side (anchor-free heads with DFL)


@HEADS.register("anchor_free", HeadInfo(anchor_free=True, reg_max=REG_MAX))
def build_anchor_free(in_channels: Sequence[int], num_classes: int, strides: Sequence[int], act: str) -> AnchorFreeHead:
    return AnchorFreeHead(in_channels, num_classes, strides, REG_MAX, act)


def head_info(name: str) -> HeadInfo:
    """The `HeadInfo` of a registered head; UnknownNameError (a KeyError) for an unknown one."""
    return HEADS.info(name)
