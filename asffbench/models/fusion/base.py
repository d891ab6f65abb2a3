"""What every fusion shares: one block per level, each resize -> fuse -> expand."""

from __future__ import annotations

from typing import Optional, Sequence

from torch import Tensor, nn

from asffbench.models.fusion.resize import LevelResize
from asffbench.models.layers import ConvBNAct

FusionResult = tuple[list[Tensor], Optional[list[Tensor]]]


class ResizeFuseLevel(nn.Module):
    """Level `level` of a resize-based fusion: ASFF's resize stage, a fuse step, a 3x3 expand;
    `act` is the conv units' activation (`ACTIVATIONS`)."""

    def __init__(
        self, level: int, in_channels: Sequence[int], out_channels: int, upsample: str, act: str = "leaky"
    ) -> None:
        super().__init__()
        self.resize = LevelResize(level, in_channels, upsample, act)
        self.expand = ConvBNAct(in_channels[level], out_channels, 3, act=act)

    def fuse(self, resized: list[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        """Combine the three resized maps; also return the (B, 3, H, W) weights if adaptive."""
        raise NotImplementedError

    def forward(self, features: Sequence[Tensor]) -> tuple[Tensor, Optional[Tensor]]:
        fused, weights = self.fuse(self.resize(features))
        return self.expand(fused), weights


class MultiLevelFusion(nn.Module):
    """Runs one block per level; blocks return (feature, weights or None)."""

    def __init__(self, levels: Sequence[nn.Module], out_channels: Sequence[int]) -> None:
        super().__init__()
        self.levels = nn.ModuleList(levels)
        self.out_channels: tuple[int, ...] = tuple(out_channels)

    def forward(self, features: Sequence[Tensor], return_weights: bool = False) -> FusionResult:
        """Fused features per level (stride 32, 16, 8) and, when asked and adaptive, the weights."""
        outputs, weights = [], []
        for block in self.levels:
            out, level_weights = block(features)
            outputs.append(out)
            weights.append(level_weights)
        if not return_weights or any(w is None for w in weights):
            return outputs, None
        return outputs, weights


def bottom_up(steps: Sequence[nn.Module], features: Sequence[Tensor]) -> list[Tensor]:
    """The bottom-up pass over features ordered stride 32, 16, 8: the finest kept, each coarser
    level made by its step from the output below it and its own lateral (steps[0]: stride 16)."""
    outputs = list(features)
    for step, level in zip(steps, range(len(features) - 2, -1, -1)):
        outputs[level] = step(outputs[level + 1], features[level])
    return outputs
