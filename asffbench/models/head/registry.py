"""The head registry (`BackboneInfo.head` names the entry of a family built from registries).

A builder takes the level widths, the number of classes, the strides and the activation and
returns a module mapping the level features to one raw output per level. Its `HeadInfo` says
what those outputs are, for the code that picks a loss and a decode. The YOLOv3 family's builder
builds its anchor-based `YOLOHead` itself (`BackboneInfo.head` empty).
"""

from __future__ import annotations

from dataclasses import dataclass

from asffbench.models.registry import Registry

HEADS = Registry("head")


@dataclass(frozen=True)
class HeadInfo:
    anchor_free: bool  # levels are `AnchorFreeLevel`s (else `LevelOutput`s with anchors)
    reg_max: int = 0  # distance bins per box side (anchor-free heads with DFL)


def head_info(name: str) -> HeadInfo:
    """The `HeadInfo` of a registered head; UnknownNameError (a KeyError) for an unknown one."""
    return HEADS.info(name)
