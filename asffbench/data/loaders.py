"""Train and val loaders from their settings (the data layer's entry points; the settings come from
`asffbench.settings.data_settings` / `train_data_settings`)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader

from asffbench.corruptions import Corruption
from asffbench.data.ultralytics_augment import UltralyticsAugment, buffer_capacity
from asffbench.data.coco import CocoDataset
from asffbench.data.dataset import DetectionDataset, collate
from asffbench.data.sampler import DetectionBatchSampler, ScaleSchedule
from asffbench.data.sources import DataSource, load_source
from asffbench.errors import UserError
from asffbench.models.input_norm import IMAGENET_NORM, InputNorm

USER_ERROR_PREFIX = f"{UserError.__module__}.{UserError.__qualname__}: "


@dataclass(frozen=True)
class DataSettings:
    """What both loaders share: the dataset, the test-time pipeline and the loader processes."""

    source: DataSource
    num_classes: int  # model.num_classes: the annotations may not have more categories
    img_size: int
    min_box_size: float
    seed: int
    workers: int
    device: str  # the `device` choice: pinned memory unless cpu
    test_resize: str
    test_interp: str  # recipe.test_interp: the test-time decoder and resize kernel
    val_batch_size: int  # eval.batch_size
    # eval.corruption / eval.severity: applied to every test-time image before its resize; None: clean
    corruption: Optional[Corruption] = None
    # The model family's input pixels (`BackboneInfo.input_norm`), for training and test time alike.
    input_norm: InputNorm = IMAGENET_NORM


@dataclass(frozen=True)
class AugmentSettings:
    """The training pipeline's augmentation (`DetectionDataset` keywords)."""

    resize: str
    mixup_prob: float
    expand_max: float
    augment: str
    crowd_targets: bool
    box_convention: str
    box_clamp: bool = False  # the reference's clamps of a read box (data/box_reading.py)
    keep_difficult: bool = False  # VOC difficult objects are training targets
    affine_fill: str = "truncated"  # augment=reference: the affine's border grey
    ultralytics: UltralyticsAugment = UltralyticsAugment()  # its steps' settings, for augment=ultralytics
    # augment=ultralytics: the mosaic buffer, in batches (recipe.mosaic_buffer; 0: none)
    mosaic_buffer: int = 0


@dataclass(frozen=True)
class SamplingSettings:
    """The training sampler: batch, multi-scale schedule, mixup epochs, epoch cap."""

    batch_size: int
    epochs: int
    multiscale: bool
    multiscale_every: int
    multiscale_min: int
    multiscale_max: int
    multiscale_fixed_epochs: int
    mixup: bool
    mixup_off_epochs: int  # mixup off for the last N epochs
    max_batches: Optional[int]  # train.max_iters_per_epoch
    mosaic: bool = False  # the ultralytics pipeline (its mosaic) is the augmentation
    close_mosaic: int = 0  # mosaic off for the last N epochs
    # `exact`: off for exactly the last mixup_off_epochs; `reference`: on while epoch <= epochs -
    # mixup_off_epochs + 1, the reference's test (272 of its 301 epoch indices for 300 and 30).
    mixup_off_form: str = "exact"

    @property
    def mixup_epochs(self) -> int:
        """Mixup is on for the epochs below this."""
        if not self.mixup:
            return 0
        extra = 2 if self.mixup_off_form == "reference" else 0
        return min(self.epochs, max(0, self.epochs - self.mixup_off_epochs + extra))

    @property
    def mosaic_epochs(self) -> int:
        """The ultralytics pipeline's mosaic is on for the epochs below this."""
        return self.epochs - self.close_mosaic if self.mosaic else 0


@dataclass(frozen=True)
class TrainDataSettings:
    data: DataSettings
    augment: AugmentSettings
    sampling: SamplingSettings


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


def load_split(data: DataSettings, split: str) -> CocoDataset:
    source = load_source(data.source, split)
    check_num_classes(data.num_classes, source.num_classes, source.ann_file)
    return source


def annotated_split(data: DataSettings, split: str) -> CocoDataset:
    """`load_split`, refusing a test split (image info only): there is nothing to train on."""
    source = load_split(data, split)
    if not source.annotated:
        raise UserError(f"{source.ann_file}: no annotations (image info only: a test split); "
                        f"data.{split}.ann must name an annotated split")
    return source


def check_num_classes(num_classes: int, categories: int, ann_file: Any) -> None:
    """A model must have a class for every category of the annotations it is used with."""
    if categories > num_classes:
        raise UserError(
            f"model.num_classes={num_classes}: {ann_file} has {categories} categories; "
            f"set model.num_classes={categories}"
        )


def wants_pin_memory(device: str) -> bool:
    return torch.cuda.is_available() and device != "cpu"


def data_loader(data: DataSettings, dataset: DetectionDataset, sampler: DetectionBatchSampler) -> DetectionLoader:
    return DetectionLoader(dataset, sampler, data.workers, data.seed, wants_pin_memory(data.device))


def build_train_loader(train: TrainDataSettings, rank: int = 0, world_size: int = 1) -> DetectionLoader:
    """The training loader: augmentation, mixup and multi-scale per the settings.

    Mixup is on for epochs < train.epochs - train.mixup_off_epochs (when tricks.mixup); sizes are
    random every train.multiscale_every iterations (when tricks.multiscale) except in the last
    train.multiscale_fixed_epochs epochs. `len` is capped by train.max_iters_per_epoch. Under
    recipe.augment=ultralytics, each loader process buffers min(recipe.mosaic_buffer x batch,
    1000, dataset) images for the mosaic (none at 0).
    """
    data, augment, sampling = train.data, train.augment, train.sampling
    schedule = ScaleSchedule(
        img_size=data.img_size, enabled=sampling.multiscale, every=sampling.multiscale_every,
        min_size=sampling.multiscale_min, max_size=sampling.multiscale_max,
        fixed_epochs=sampling.multiscale_fixed_epochs, epochs=sampling.epochs, seed=data.seed,
    )
    schedule.check()  # before the dataset: loading (or generating) it can take minutes
    source = annotated_split(data, "train")
    dataset = DetectionDataset(
        source, train=True, img_size=data.img_size, min_box_size=data.min_box_size,
        seed=data.seed, mixup_prob=augment.mixup_prob, resize=augment.resize, expand_max=augment.expand_max,
        augment=augment.augment, crowd_targets=augment.crowd_targets, box_convention=augment.box_convention,
        box_clamp=augment.box_clamp, keep_difficult=augment.keep_difficult, affine_fill=augment.affine_fill,
        ultralytics=augment.ultralytics,
        mosaic_buffer=buffer_capacity(augment.mosaic_buffer, sampling.batch_size, len(source)),
        input_norm=data.input_norm,
    )
    sampler = DetectionBatchSampler(
        len(dataset), sampling.batch_size, schedule, shuffle=True, drop_last=True, seed=data.seed,
        mixup_epochs=sampling.mixup_epochs, mosaic_epochs=sampling.mosaic_epochs, rank=rank, world_size=world_size, max_batches=sampling.max_batches,
    )
    return data_loader(data, dataset, sampler)


def build_val_loader(data: DataSettings) -> tuple[DetectionLoader, DetectionDataset]:
    """The validation loader (the test-time resize to img_size only, dataset order) and its dataset."""
    schedule = ScaleSchedule(img_size=data.img_size)
    schedule.check()
    dataset = val_dataset(data, load_split(data, "val"))
    sampler = DetectionBatchSampler(len(dataset), data.val_batch_size, schedule, shuffle=False)
    return data_loader(data, dataset, sampler), dataset


def val_dataset(data: DataSettings, source: Any) -> DetectionDataset:
    """The test-time pipeline over `source` (a `CocoDataset`, or `ImageFiles` for predict)."""
    return DetectionDataset(
        source, train=False, img_size=data.img_size, min_box_size=data.min_box_size, seed=data.seed,
        resize=data.test_resize, test_interp=data.test_interp, corruption=data.corruption,
        input_norm=data.input_norm,
    )
