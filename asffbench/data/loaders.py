"""Train and val loaders from a composed config (the data layer's entry points)."""

from __future__ import annotations

import random
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader

from asffbench.data.coco import CocoDataset
from asffbench.data.dataset import DetectionDataset, collate
from asffbench.data.sampler import DetectionBatchSampler, ScaleSchedule
from asffbench.data.sources import load_source
from asffbench.errors import UserError

USER_ERROR_PREFIX = f"{UserError.__module__}.{UserError.__qualname__}: "


def seed_worker(worker_id: int) -> None:
    """Seed numpy and random in a worker from torch's per-worker seed (itself from the loader's
    seeded generator); the augmentation itself is seeded per sample."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def unwrap_worker_error(err: UserError) -> UserError:
    """A worker's UserError arrives with its traceback in the message: keep the one-line message."""
    lines = str(err).splitlines()
    for line in reversed(lines):
        if line.startswith(USER_ERROR_PREFIX):
            return UserError(line[len(USER_ERROR_PREFIX):])
    return err if len(lines) <= 1 else UserError(lines[-1].strip())


class DetectionLoader:
    """A DataLoader over `DetectionDataset` with `set_epoch`, `dataset` and `len` (batches)."""

    def __init__(self, dataset: DetectionDataset, batch_sampler: DetectionBatchSampler, workers: int,
                 seed: int = 0, pin_memory: bool = False) -> None:
        self.dataset = dataset
        self.batch_sampler = batch_sampler
        self.loader = DataLoader(
            dataset,
            batch_sampler=batch_sampler,
            num_workers=workers,
            collate_fn=collate,
            pin_memory=pin_memory,
            worker_init_fn=seed_worker if workers > 0 else None,
            generator=torch.Generator().manual_seed(seed),
            persistent_workers=workers > 0,
        )

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's shuffle, sizes and mixup state (call before iterating)."""
        self.batch_sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, list[dict]]]:
        try:
            yield from self.loader
        except UserError as err:
            raise unwrap_worker_error(err) from None


def load_split(cfg: Any, split: str) -> CocoDataset:
    source = load_source(cfg.data, split)
    check_num_classes(int(cfg.model.num_classes), source.num_classes, source.ann_file)
    return source


def check_num_classes(num_classes: int, categories: int, ann_file: Any) -> None:
    """A model must have a class for every category of the annotations it is used with."""
    if categories > num_classes:
        raise UserError(
            f"model.num_classes={num_classes}: {ann_file} has {categories} categories; "
            f"set model.num_classes={categories}"
        )


def wants_pin_memory(cfg: Any) -> bool:
    # `device` is a str enum: compare it, never str() it ("Device.cpu").
    return torch.cuda.is_available() and cfg.get("device", "auto") != "cpu"


def build_train_loader(cfg: Any, rank: int = 0, world_size: int = 1) -> DetectionLoader:
    """The training loader: augmentation, mixup and multi-scale per the config's tricks.

    Mixup is on for epochs < train.epochs - train.mixup_off_epochs (when tricks.mixup); sizes are
    random every train.multiscale_every iterations (when tricks.multiscale) except in the last
    train.multiscale_fixed_epochs epochs. `len` is capped by train.max_iters_per_epoch.
    """
    train = cfg.train
    schedule = ScaleSchedule(
        img_size=int(cfg.img_size),
        enabled=bool(cfg.tricks.multiscale),
        every=int(train.multiscale_every),
        min_size=int(train.multiscale_min),
        max_size=int(train.multiscale_max),
        fixed_epochs=int(train.multiscale_fixed_epochs),
        epochs=int(train.epochs),
        seed=int(cfg.seed),
    )
    schedule.check()  # before the dataset: loading (or generating) it can take minutes
    dataset = DetectionDataset(
        load_split(cfg, "train"), train=True, img_size=int(cfg.img_size),
        min_box_size=float(cfg.data.min_box_size), seed=int(cfg.seed),
        mixup_prob=float(cfg.recipe.mixup_prob), resize=cfg.recipe.train_resize,
        expand_max=float(cfg.recipe.expand_max), augment=cfg.recipe.augment,
        crowd_targets=bool(cfg.recipe.crowd_targets), box_convention=cfg.recipe.box_convention,
    )
    mixup_epochs = int(train.epochs) - int(train.mixup_off_epochs) if cfg.tricks.mixup else 0
    sampler = DetectionBatchSampler(
        len(dataset), int(train.batch_size), schedule, shuffle=True, drop_last=True,
        seed=int(cfg.seed), mixup_epochs=mixup_epochs, rank=rank, world_size=world_size,
        max_batches=train.max_iters_per_epoch,
    )
    return DetectionLoader(dataset, sampler, int(cfg.data.workers), int(cfg.seed), wants_pin_memory(cfg))


def build_val_loader(cfg: Any) -> tuple[DetectionLoader, DetectionDataset]:
    """The validation loader (the test-time resize to img_size only, dataset order) and its dataset."""
    schedule = ScaleSchedule(img_size=int(cfg.img_size))
    schedule.check()
    dataset = val_dataset(cfg, load_split(cfg, "val"))
    sampler = DetectionBatchSampler(len(dataset), int(cfg.eval.batch_size), schedule, shuffle=False)
    loader = DetectionLoader(dataset, sampler, int(cfg.data.workers), int(cfg.seed), wants_pin_memory(cfg))
    return loader, dataset


def val_dataset(cfg: Any, source: Any) -> DetectionDataset:
    """The test-time pipeline over `source` (a `CocoDataset`, or `ImageFiles` for predict)."""
    return DetectionDataset(
        source, train=False, img_size=int(cfg.img_size),
        min_box_size=float(cfg.data.min_box_size), seed=int(cfg.seed), resize=cfg.recipe.test_resize,
    )
