"""A BiFPN node's input fusion: one learned scalar per input edge, normalised over the edges.

EfficientDet's weightings: `fast` (fast normalised fusion, ReLU(w) / (sum of ReLU(w) + 1e-4)),
`softmax` (softmax over the edges) and `sum` (no weights: the plain sum, EfficientDet's
unweighted baseline). The scalars start at 1, so every node starts as an (almost) even average.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn

EDGE_WEIGHTINGS = ("fast", "softmax", "sum")
FAST_EPSILON = 1e-4  # EfficientDet's: keeps the division stable when every ReLU(w) is 0


class WeightedSum(nn.Module):
    def __init__(self, inputs: int, weighting: str) -> None:
        super().__init__()
        if weighting not in EDGE_WEIGHTINGS:
            raise ValueError(f"edge weighting must be one of {EDGE_WEIGHTINGS}, got {weighting!r}")
        self.weighting = weighting
        self.inputs = inputs
        self.edge_weights: Optional[nn.Parameter] = (
            None if weighting == "sum" else nn.Parameter(torch.ones(inputs))
        )

    def normalised_weights(self) -> Optional[Tensor]:
        """The weights the inputs are multiplied by, (inputs,); None for the plain sum."""
        if self.edge_weights is None:
            return None
        if self.weighting == "fast":
            positive = torch.relu(self.edge_weights)
            return positive / (positive.sum() + FAST_EPSILON)
        return self.edge_weights.softmax(dim=0)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        if len(inputs) != self.inputs:
            raise ValueError(f"expected {self.inputs} inputs, got {len(inputs)}")
        weights = self.normalised_weights()
        fused = inputs[0] if weights is None else inputs[0] * weights[0]
        for index in range(1, len(inputs)):
            fused = fused + (inputs[index] if weights is None else inputs[index] * weights[index])
        return fused
