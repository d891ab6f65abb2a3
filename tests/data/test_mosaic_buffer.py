"""`recipe.mosaic_buffer`: the mosaic draws its other images from those its loader process loaded
last (ultralytics' buffer), bounded, oldest out first, never at a wrong size, emptied and filled
from (seed, epoch) at every epoch start so that a resumed run continues exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asffbench.config.compose import compose_config
from asffbench.data.loaders import build_train_loader
from asffbench.data.reference_augment.sample import make_sample
from asffbench.data.ultralytics_augment import MosaicBuffer, UltralyticsAugment, buffer_capacity
from asffbench.settings import train_data_settings
from tests.data.test_data_pipeline import synth_cfg

SIZE = 64
COUNT = 10  # images in the pretend dataset


class CountingLoad:
    """`load(i)`: a 48 x 40 white image holding one box of label i, solid in colour i; each call counted."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, index: int):
        self.calls.append(index)
        image = np.full((48, 40, 3), 255, dtype=np.uint8)
        image[10:40, 8:30] = (index * 23 % 256, 255 - index * 17 % 256, index * 41 % 256)
        return make_sample(image, np.array([[8.0, 10.0, 30.0, 40.0]]), np.array([index]))


def test_capacity_is_batches_times_batch_capped_at_1000_and_the_dataset():
    assert buffer_capacity(8, 16, 5000) == 128
    assert buffer_capacity(8, 256, 5000) == 1000
    assert buffer_capacity(8, 16, 86) == 86
    assert buffer_capacity(0, 16, 86) == 0
    with pytest.raises(ValueError, match="at least one image"):
        MosaicBuffer(0)


def test_the_mosaic_draws_only_images_this_process_loaded():
    load, buffer = CountingLoad(), MosaicBuffer(8)
    pipeline = UltralyticsAugment(mosaic_prob=1.0, scale=0.0, translate=0.0)
    rng = np.random.default_rng(0)
    pipeline(load, 3, COUNT, SIZE, True, rng, buffer=buffer)  # buffer {3}: a mosaic of image 3 only
    assert load.calls == [3]
    labels = set()
    for _ in range(20):
        labels |= set(pipeline(load, 7, COUNT, SIZE, True, rng, buffer=buffer).labels.tolist())
    assert load.calls == [3, 7]  # image 7 loaded once, the rest served from memory
    assert labels == {3, 7}  # both drawn, never another of the ten
    draws = {i for _ in range(50) for i in buffer.draw(rng, 3)}
    assert draws == {3, 7}


def test_without_a_buffer_the_others_come_from_the_whole_dataset():
    load = CountingLoad()
    pipeline = UltralyticsAugment(mosaic_prob=1.0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        pipeline(load, 3, COUNT, SIZE, True, rng)
    assert len(load.calls) == 80 and len(set(load.calls)) == COUNT


def test_the_buffer_is_bounded_and_evicts_the_oldest_first():
    load, buffer = CountingLoad(), MosaicBuffer(3)
    for index in range(5):
        buffer.resized(index, SIZE, load)
        assert len(buffer) <= 3
    assert buffer.indices() == [2, 3, 4]
    buffer.resized(2, SIZE, load)  # served: it stays the oldest (insertion order, as ultralytics)
    buffer.resized(5, SIZE, load)
    assert buffer.indices() == [3, 4, 5] and load.calls == [0, 1, 2, 3, 4, 5]


def test_no_image_is_decoded_twice_while_buffered():
    load, buffer = CountingLoad(), MosaicBuffer(COUNT)
    pipeline = UltralyticsAugment(mosaic_prob=1.0)
    rng = np.random.default_rng(1)
    for index in rng.integers(COUNT, size=40):
        pipeline(load, int(index), COUNT, SIZE, True, rng, mixup_prob=0.5, buffer=buffer)
    assert len(load.calls) == len(set(load.calls))  # everything fits: each image decoded once
    small = MosaicBuffer(2)
    load.calls.clear()
    for index in (0, 0, 1, 0, 2, 0):
        small.resized(index, SIZE, load)
    assert load.calls == [0, 1, 2, 0]  # 0 was decoded again only after it had been evicted


def test_an_image_buffered_at_another_size_is_loaded_again():
    load, buffer = CountingLoad(), MosaicBuffer(4)
    assert max(buffer.resized(0, 96, load).image.shape[:2]) == 96
    buffer.resized(1, 96, load)
    smaller = buffer.resized(0, 32, load)
    assert max(smaller.image.shape[:2]) == 32 and load.calls == [0, 1, 0]
    assert buffer.indices() == [1, 0]  # the reload replaced the stale entry, as the newest
    assert buffer.resized(0, 32, load) is smaller and load.calls == [0, 1, 0]


def test_buffered_images_are_read_only():
    load, buffer = CountingLoad(), MosaicBuffer(2)
    sample = buffer.resized(0, SIZE, load)
    with pytest.raises(ValueError, match="read-only"):
        sample.image[0, 0] = 0


def test_the_mixup_partner_is_drawn_from_the_dataset_and_entered():
    load, buffer = CountingLoad(), MosaicBuffer(COUNT)
    pipeline = UltralyticsAugment(mosaic_prob=1.0)
    rng = np.random.default_rng(2)
    pipeline(load, 0, COUNT, SIZE, True, rng, mixup_prob=1.0, buffer=buffer)
    assert len(load.calls) == 2 and load.calls[0] == 0  # the sample's own image, then the partner
    assert buffer.indices() == load.calls


def test_the_buffer_empties_when_the_epoch_changes():
    load, buffer = CountingLoad(), MosaicBuffer(4)
    buffer.start_epoch(0)
    buffer.resized(0, SIZE, load)
    buffer.start_epoch(0)
    assert buffer.indices() == [0]
    buffer.start_epoch(1)
    assert len(buffer) == 0


def epoch_batches(loader, epoch):
    loader.set_epoch(epoch)
    return [(images, targets) for images, targets, _ in loader]


def test_a_run_resumed_at_an_epoch_loads_what_an_uninterrupted_one_does():
    cfg = synth_cfg("recipe=ultralytics", "tricks=none", "recipe.close_mosaic=0", "train.max_iters_per_epoch=2")
    loader = build_train_loader(train_data_settings(cfg))
    assert loader.dataset.mosaic_buffer.capacity == 12  # min(8 x 4, 1000, the 12 training images)
    epoch_batches(loader, 0)
    uninterrupted = epoch_batches(loader, 1)
    resumed = epoch_batches(build_train_loader(train_data_settings(cfg)), 1)
    for (images, targets), (images_r, targets_r) in zip(uninterrupted, resumed, strict=True):
        assert torch.equal(images, images_r) and torch.equal(targets, targets_r)
    off = build_train_loader(train_data_settings(synth_cfg("recipe=ultralytics", "tricks=none",
                                                           "recipe.mosaic_buffer=0")))
    assert off.dataset.mosaic_buffer is None


def test_every_epoch_starts_with_a_full_buffer_drawn_from_seed_and_epoch():
    cfg = synth_cfg("recipe=ultralytics", "tricks=none", "recipe.close_mosaic=0", "recipe.mosaic_buffer=2",
                    "train.max_iters_per_epoch=1")
    dataset = build_train_loader(train_data_settings(cfg)).dataset
    capacity = dataset.mosaic_buffer.capacity
    assert capacity == 8 < len(dataset)  # two batches of 4 of the 12 training images
    fills = []
    for epoch in (0, 1):
        loader = build_train_loader(train_data_settings(cfg))
        epoch_batches(loader, epoch)
        buffered = loader.dataset.mosaic_buffer.indices()
        assert len(buffered) == capacity  # after one batch of 4: full from the first sample on
        fills.append(buffered)
    again = build_train_loader(train_data_settings(cfg))
    epoch_batches(again, 1)
    assert again.dataset.mosaic_buffer.indices() == fills[1]  # a function of (seed, epoch)
    assert fills[0] != fills[1]


def test_the_ultralytics_recipe_buffers_eight_batches():
    cfg = compose_config(["recipe=ultralytics", "tricks=none"])
    assert cfg.recipe.mosaic_buffer == 8 and train_data_settings(cfg).augment.mosaic_buffer == 8
    assert compose_config([]).recipe.mosaic_buffer == 0
