"""DropBlock for the neck's three slots, with ASFF*'s epoch schedule of block sizes.

Two forms of the drop itself (`recipe.dropblock`):
- `torchvision`: `torchvision.ops.drop_block2d`: gamma from each input's size, block centres
  drawn only where a whole block fits;
- `reference`: the reference implementation's DropBlock: gamma = (1 - keep) W^2 / (b^2 (W - b +
  1)^2) computed ONCE, from the width W of the first input after the block changed (later
  inputs of other sizes, multi-scale training, keep it), and centres drawn over the whole map.
Both rescale the kept activations by (elements / kept elements) of the whole batch.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import DropBlock2d, drop_block2d

DROPBLOCK_FORMS = ("torchvision", "reference")

# ASFF* schedule: (first epoch, block sizes for the stride 32 / 16 / 8 slots); off before epoch 5.
DROPBLOCK_SCHEDULE: tuple[tuple[int, tuple[int, int, int]], ...] = (
    (5, (1, 3, 5)),
    (80, (3, 5, 7)),
    (150, (7, 7, 7)),
)
SCHEDULE_EPOCHS = 300  # the length of the paper's run, which the epochs above are for


def dropblock_sizes_for_epoch(epoch: int, epochs: int = SCHEDULE_EPOCHS) -> Optional[tuple[int, int, int]]:
    """Block sizes of the three neck slots at `epoch` (0-based) of a run of `epochs`, or None
    while DropBlock is off. The schedule's epochs scale with the run's length, so a 30-epoch run
    switches at epochs 0.5 / 8 / 15 (that is 1 / 8 / 15), not once at its last epochs."""
    sizes = None
    for first_epoch, block_sizes in DROPBLOCK_SCHEDULE:
        if epoch * SCHEDULE_EPOCHS >= first_epoch * epochs:  # epoch >= first * epochs / 300, exactly
            sizes = block_sizes
    return sizes


class ScheduledDropBlock2d(DropBlock2d):
    """torchvision's DropBlock2d that starts disabled (p = 0) and fits small feature maps.

    `set_block(block_size, p)` is driven by the detector's `set_epoch`. On a map smaller than the
    block, the block shrinks to the largest odd size that fits (torchvision rejects even sizes).
    """

    def __init__(self, form: str = "torchvision") -> None:
        super().__init__(p=0.0, block_size=1)
        if form not in DROPBLOCK_FORMS:
            raise ValueError(f"DropBlock form must be one of {DROPBLOCK_FORMS}, got {form!r}")
        self.form = form
        self.gamma: Optional[float] = None  # the reference form's, fixed at its first input

    def set_block(self, block_size: int, p: float) -> None:
        if block_size < 1 or block_size % 2 == 0:
            raise ValueError(f"DropBlock block size must be odd and positive, got {block_size}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"DropBlock drop probability must be in [0, 1], got {p}")
        if (block_size, p) != (self.block_size, self.p):
            self.gamma = None  # the reference resets it with the block
        self.block_size = block_size
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        fitting = min(self.block_size, x.shape[-1], x.shape[-2])
        if fitting % 2 == 0:
            fitting -= 1
        if self.form == "reference":
            return self.reference_drop(x, fitting)
        return drop_block2d(x, self.p, fitting, self.inplace, self.eps, self.training)

    def reference_drop(self, x: Tensor, block_size: int) -> Tensor:
        if self.gamma is None:
            self.gamma = reference_gamma(self.p, x.shape[-1], block_size)
        seeds = torch.bernoulli(torch.full_like(x, self.gamma))
        mask = 1.0 - F.max_pool2d(seeds, block_size, stride=1, padding=block_size // 2)
        return x * mask * (mask.numel() / (self.eps + mask.sum()))


def reference_gamma(drop_prob: float, width: int, block_size: int) -> float:
    """The reference's seed rate: drop_prob x W^2 / (b^2 x (W - b + 1)^2), from the width alone."""
    return drop_prob * width**2 / (block_size**2 * (width - block_size + 1) ** 2)
