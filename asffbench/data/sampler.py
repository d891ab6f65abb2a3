"""Batch sampling with per-batch input sizes (multi-scale) and per-sample keys.

The batch sampler runs in the main process and yields lists of `SampleKey`s: everything random
about a sample (its input size, epoch, whether mixup is on) is in its key, and the dataset seeds
its augmentation from (seed, epoch, index). So batches are the same whatever the number of
workers, with persistent workers too, and a resumed epoch repeats the interrupted one exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple, Optional

import numpy as np
import torch
from torch.utils.data import DistributedSampler, Sampler

from asffbench.errors import UserError

STRIDE = 32  # input sizes must be multiples of the coarsest stride


class SampleKey(NamedTuple):
    index: int
    size: int
    epoch: int = 0
    mixup: bool = False
    mosaic: bool = False  # the ultralytics pipeline's mosaic is on (all but the last close_mosaic epochs)


def derive_seed(*parts: int) -> int:
    """A 32-bit seed from integers, well mixed (no collisions between nearby tuples)."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


@dataclass(frozen=True)
class ScaleSchedule:
    """Input size per iteration: random in [min_size, max_size] (step 32) every `every` iterations,
    `img_size` for the last `fixed_epochs` epochs or when disabled."""

    img_size: int
    enabled: bool = False
    every: int = 10
    min_size: int = 320
    max_size: int = 608
    fixed_epochs: int = 10
    epochs: int = 1
    seed: int = 0

    def choices(self) -> list[int]:
        first = -(-self.min_size // STRIDE) * STRIDE
        return list(range(first, self.max_size + 1, STRIDE))

    def check(self) -> None:
        if self.img_size <= 0 or self.img_size % STRIDE:
            raise UserError(f"img_size={self.img_size}: must be a positive multiple of {STRIDE}")
        if self.enabled:
            if self.every < 1:
                raise UserError(f"train.multiscale_every={self.every}: must be at least 1")
            if self.min_size < 1:  # else the choices would include sizes <= 0
                raise UserError(f"train.multiscale_min={self.min_size}: must be positive")
            if not self.choices():
                raise UserError(
                    f"train.multiscale_min={self.min_size}, train.multiscale_max={self.max_size}: "
                    f"no multiple of {STRIDE} in between"
                )

    def is_random(self, epoch: int) -> bool:
        return self.enabled and epoch < self.epochs - self.fixed_epochs

    def sizes(self, epoch: int, num_batches: int) -> list[int]:
        if not self.is_random(epoch):
            return [self.img_size] * num_batches
        choices = self.choices()
        rng = np.random.default_rng(derive_seed(self.seed, epoch, 0x5CA1E))
        groups = rng.integers(len(choices), size=-(-num_batches // self.every))
        return [choices[groups[b // self.every]] for b in range(num_batches)]


class DetectionBatchSampler(Sampler[list[SampleKey]]):
    """Shuffled (or ordered) batches of SampleKeys; a DistributedSampler shards when world_size > 1."""

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        schedule: ScaleSchedule,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
        mixup_epochs: int = 0,
        mosaic_epochs: int = 0,
        rank: int = 0,
        world_size: int = 1,
        max_batches: Optional[int] = None,
    ) -> None:
        if batch_size < 1:
            raise UserError(f"batch_size={batch_size}: must be at least 1")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.schedule = schedule
        self.shuffle = shuffle
        # Never drop the only (partial) batch of a dataset smaller than one batch.
        self.drop_last = drop_last and num_samples >= batch_size * world_size
        self.seed = seed
        self.mixup_epochs = mixup_epochs  # mixup on for epochs < mixup_epochs
        self.mosaic_epochs = mosaic_epochs  # mosaic on for epochs < mosaic_epochs
        self.max_batches = max_batches
        self.epoch = 0
        self.distributed: Optional[DistributedSampler] = None
        if world_size > 1:
            self.distributed = DistributedSampler(
                range(num_samples), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed
            )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.distributed is not None:
            self.distributed.set_epoch(epoch)

    def indices(self) -> list[int]:
        if self.distributed is not None:
            return list(self.distributed)
        if not self.shuffle:
            return list(range(self.num_samples))
        generator = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch))
        return torch.randperm(self.num_samples, generator=generator).tolist()

    def __len__(self) -> int:
        per_rank = len(self.distributed) if self.distributed is not None else self.num_samples
        batches = per_rank // self.batch_size if self.drop_last else -(-per_rank // self.batch_size)
        return batches if self.max_batches is None else min(batches, self.max_batches)

    def __iter__(self) -> Iterator[list[SampleKey]]:
        order = self.indices()
        count = len(self)
        sizes = self.schedule.sizes(self.epoch, count)
        mixup = self.epoch < self.mixup_epochs
        mosaic = self.epoch < self.mosaic_epochs
        for b in range(count):
            chunk = order[b * self.batch_size : (b + 1) * self.batch_size]
            yield [SampleKey(i, sizes[b], self.epoch, mixup, mosaic) for i in chunk]
