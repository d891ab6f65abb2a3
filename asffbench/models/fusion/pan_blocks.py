"""The merge blocks of PAN's `conv`-form bottom-up steps: after the concatenation of the
downsampled finer output and the lateral (2 x `channels`), back to `channels`.

- `yolov4`: YOLOv4's five conv units (1x1, 3x3, 1x1, 3x3, 1x1; darknet's yolov4.cfg head),
- `csp`: YOLOv5's C3 without shortcut (also YOLOX's CSP layer, the PAN of YOLOX-PAI),
- `light`: three conv units (1x1, 3x3, 1x1), what `pan` was before `fusion.pan_block`.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from asffbench.models.layers import C3, ConvBNAct


def conv_units(channels: int, count: int, act: str) -> nn.Module:
    """`count` conv units alternating 1x1 (to `channels`) and 3x3 (to 2 x `channels`) from 2 x `channels`."""
    units = [ConvBNAct(2 * channels, channels, 1, act=act)]
    for _ in range((count - 1) // 2):
        units += [ConvBNAct(channels, 2 * channels, 3, act=act), ConvBNAct(2 * channels, channels, 1, act=act)]
    return nn.Sequential(*units)


# name -> builder(channels, act, csp_repeats)
PAN_BLOCKS: dict[str, Callable[[int, str, int], nn.Module]] = {
    "yolov4": lambda channels, act, repeats: conv_units(channels, 5, act),
    "csp": lambda channels, act, repeats: C3(2 * channels, channels, repeats, shortcut=False, act=act),
    "light": lambda channels, act, repeats: conv_units(channels, 3, act),
}


def pan_block(name: str, channels: int, act: str, csp_repeats: int) -> nn.Module:
    """The named merge block; ValueError for an unknown name."""
    if name not in PAN_BLOCKS:
        raise ValueError(f"pan block must be one of {tuple(PAN_BLOCKS)}, got {name!r}")
    return PAN_BLOCKS[name](channels, act, csp_repeats)
