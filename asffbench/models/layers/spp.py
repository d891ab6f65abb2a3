"""Spatial pyramid pooling of the YOLOv3 neck: the input beside its 5/9/13 max-pools."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SPP(nn.Module):
    """Concatenate the input with stride-1 max-pools (same size): channels x (1 + len(kernels))."""

    def __init__(self, kernel_sizes: Sequence[int] = (5, 9, 13)) -> None:
        super().__init__()
        self.kernel_sizes = tuple(kernel_sizes)

    def forward(self, x: Tensor) -> Tensor:
        pools = [F.max_pool2d(x, k, stride=1, padding=k // 2) for k in self.kernel_sizes]
        return torch.cat([x, *pools], dim=1)
