"""The backbones' forward: run the modules in order and keep the outputs of the tapped ones."""

from __future__ import annotations

from typing import Iterable

from torch import Tensor, nn


def tapped_outputs(modules: Iterable[nn.Module], x: Tensor, taps: tuple[int, ...]) -> list[Tensor]:
    """`x` through `modules` in order; the outputs of the modules at the indices `taps`, in order."""
    outputs = []
    for index, module in enumerate(modules):
        x = module(x)
        if index in taps:
            outputs.append(x)
    return outputs
