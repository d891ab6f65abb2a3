"""What the timed batches are made of: val images for a trained model, random images otherwise.

A trained detector on a real image hands NMS hundreds of candidates; on random noise, or with
untrained weights whose scores sit near zero, NMS has almost nothing to do and looks free. So a
model with learned weights is timed on images of the configured val split (letterboxed as in
evaluation, cycled), and the random fallback is labelled as such in the record.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from asffbench.data.loaders import DataSettings, build_val_loader
from asffbench.errors import UserError

VAL = "val"
RANDOM = "random"
# Val images kept in memory for timing (at least one batch): enough to vary the candidate
# counts NMS sees, few enough to load quickly.
MAX_VAL_IMAGES = 64


@dataclass
class TimingImages:
    """A pool of input images (N, 3, S, S) cut into batches of any size, cyclically."""

    kind: str  # VAL or RANDOM
    description: str
    images: Tensor

    def batches(self, batch_size: int) -> list[Tensor]:
        """ceil(N / batch_size) batches (one when N < batch_size), images repeated to fill them."""
        count = max(1, -(-len(self.images) // batch_size))
        order = itertools.cycle(range(len(self.images)))
        return [self.images[[next(order) for _ in range(batch_size)]] for _ in range(count)]


def input_kind(choice: str, has_weights: bool) -> str:
    """`bench.input`: auto means val images exactly when the model carries learned weights."""
    if choice == "auto":
        return VAL if has_weights else RANDOM
    return choice


def timing_images(data: DataSettings, kind: str, batch_size: int) -> TimingImages:
    if kind == VAL:
        return val_images(data, max(batch_size, MAX_VAL_IMAGES))
    generator = torch.Generator().manual_seed(data.seed)
    size = data.img_size
    return TimingImages(
        kind=RANDOM,
        description="random normal images, fixed seed",
        images=torch.randn(batch_size, 3, size, size, generator=generator),
    )


def val_images(data: DataSettings, limit: int) -> TimingImages:
    """The first `limit` images of the val split (fewer when the split is smaller)."""
    loader, dataset = build_val_loader(replace(data, val_batch_size=min(limit, 16)))
    if len(dataset) == 0:
        raise UserError("bench.input=val: the val split has no images")
    chunks: list[Tensor] = []
    for images, _targets, _metas in loader:
        chunks.append(images)
        if sum(len(c) for c in chunks) >= limit:
            break
    images = torch.cat(chunks)[:limit]
    return TimingImages(
        kind=VAL,
        description=f"{len(images)} val images of data={data.source.name}, letterboxed to "
        f"{data.img_size} px as in evaluation, cycled",
        images=images,
    )
