"""A torch Dataset of resized (letterbox or stretch), augmented samples of a `CocoDataset`, and
its collate.

A sample is `(image (3, S, S) float normalised (`input_norm`), target (N, 6) [label, x1, y1, x2, y2, weight],
meta)`; `collate` prepends the image index to every target row -> (M, 7) (see DESIGN.md,
"Targets"). For validation the meta maps input pixels back to the original image exactly
(input = orig * scale + pad, `scale` one float or an (sx, sy) pair). For training it describes
the final resize from the augmented image.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Optional, Union

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, get_worker_info
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

from asffbench.config.schema import choice_str
from asffbench.corruptions import Corruption
from asffbench.data.box_reading import clamp_inclusive_boxes
from asffbench.data.coco import CocoDataset
from asffbench.data.corrupt_image import corrupt_image
from asffbench.data.mixup import mixup, sample_lambda
from asffbench.data.reference_augment import ReferenceAugment, Sample, blend_raw, draw_lambda, make_sample
from asffbench.data.sampler import SampleKey, derive_seed
from asffbench.data.test_time import decoder_of, resize_for_test
from asffbench.data.ultralytics_augment import MosaicBuffer, UltralyticsAugment
from asffbench.data.transforms import (
    build_train_augment,
    drop_small_boxes,
    normalize,
    resize_to_input,
    to_boxes,
    to_float01,
)
from asffbench.models.input_norm import IMAGENET_NORM, InputNorm


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run per-image ops on one thread, as DataLoader workers do: the tensors are small, and
    intra-op threads cost more than they give (on a busy CPU, 10x more)."""
    threads = torch.get_num_threads()
    if threads == 1 or get_worker_info() is not None:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


AUGMENTS = ("asffbench", "reference", "ultralytics")  # recipe.augment: the training pipelines
# The mosaic buffer's fill at an epoch's start draws from derive_seed(seed, epoch, this): apart
# from every sample's own (seed, epoch, index), indices being non-negative.
BUFFER_FILL_STREAM = -1


class DetectionDataset(Dataset):
    """Indexable by `SampleKey` (from the batch sampler) or a plain int (size `img_size`)."""

    def __init__(
        self,
        source: CocoDataset,
        train: bool,
        img_size: int,
        min_box_size: float = 2.0,
        seed: int = 0,
        mixup_prob: float = 0.5,
        resize: str = "letterbox",
        expand_max: float = 2.0,
        augment: str = "asffbench",
        crowd_targets: bool = False,
        box_convention: str = "continuous",
        box_clamp: bool = False,
        keep_difficult: bool = False,
        affine_fill: str = "truncated",
        test_interp: str = "torchvision",
        corruption: Optional[Corruption] = None,
        ultralytics: UltralyticsAugment = UltralyticsAugment(),
        mosaic_buffer: int = 0,
        input_norm: InputNorm = IMAGENET_NORM,
    ) -> None:
        """`mixup_prob`: share of training samples blended with a second image while mixup is
        on; `resize`: letterbox or stretch to the input square; `expand_max`: largest zoom-out;
        `augment`: the training pipeline (`asffbench`: transforms.v2, mixup of the resized
        images; `reference`: the reference's OpenCV steps, mixup of the raw images first);
        `crowd_targets`: train on crowd boxes too; `box_convention`: `inclusive` reads training
        boxes as x2 = x + w - 1 (the reference), `continuous` as x2 = x + w; `box_clamp`: the
        reference's clamps of a read box (data/box_reading.py, inclusive convention only);
        `keep_difficult`: train on VOC's difficult objects too; `affine_fill`: the reference
        affine's border grey (`truncated` or `rounded`, as OpenCV rounds the reference's); `test_interp`: the
        test-time decoder and resize (`data.test_time`: `torchvision` or the reference's
        `opencv_linear`); `ultralytics`: the settings of `augment=ultralytics` (mosaic, affine,
        HSV, flip; data/ultralytics_augment/); `mosaic_buffer`: under it, how many images each
        loader process keeps decoded and resized for the mosaic to draw from (0: none, the others
        are loaded from the whole dataset); `corruption`: at test time, applied to the decoded
        image before the resize (`data.corrupt_image`, seeded per image from `seed`); `input_norm`:
        the model family's input normalisation (`BackboneInfo.input_norm`), last step of every sample."""
        self.source = source
        self.train = train
        self.img_size = img_size
        self.min_box_size = min_box_size
        self.seed = seed
        self.mixup_prob = mixup_prob
        self.resize = resize
        self.input_norm = input_norm
        self.test_interp = choice_str(test_interp)
        if train and corruption is not None:
            raise ValueError("corruption: a test-time setting, not for a training dataset")
        self.corruption = corruption
        # Training decodes with PIL either way: PIL's and OpenCV's JPEG decoders give equal pixels
        # (tests/data/test_test_time.py); the key is about the reference's evaluation.
        self.decoder = "pil" if train else decoder_of(self.test_interp)
        self.crowd_targets = crowd_targets
        self.box_shrink = 1.0 if choice_str(box_convention) == "inclusive" else 0.0
        if box_clamp and not self.box_shrink:
            raise ValueError("box_clamp reads boxes under the inclusive convention: set box_convention=inclusive")
        self.box_clamp = box_clamp
        self.keep_difficult = keep_difficult
        augment = choice_str(augment)
        if augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {AUGMENTS}, got {augment!r}")
        self.augment = build_train_augment(expand_max) if train and augment == "asffbench" else None
        self.reference_augment = (
            ReferenceAugment(expand_max=expand_max, min_box_size=min_box_size, resize=resize,
                             affine_fill=choice_str(affine_fill))
            if train and augment == "reference" else None
        )
        self.ultralytics_augment = ultralytics if train and augment == "ultralytics" else None
        # Per process: each DataLoader worker fills its own copy (empty when the workers start).
        self.mosaic_buffer = (MosaicBuffer(mosaic_buffer)
                              if self.ultralytics_augment is not None and mosaic_buffer > 0 else None)

    # The attributes the engine uses (DESIGN.md, "Entry points").
    @property
    def coco(self):
        return self.source.coco

    @property
    def label_to_cat_id(self) -> list:
        return self.source.label_to_cat_id

    @property
    def class_names(self) -> list[str]:
        return self.source.class_names

    @property
    def num_classes(self) -> int:
        return self.source.num_classes

    @property
    def image_ids(self) -> list:
        return self.source.image_ids

    @property
    def ann_file(self) -> Path:
        return self.source.ann_file

    @property
    def annotated(self) -> bool:
        """False for a test split (image info only) and for plain image files: nothing to score against."""
        return bool(getattr(self.source, "annotated", False))

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: Union[SampleKey, int]) -> tuple[Tensor, Tensor, dict]:
        if not isinstance(key, SampleKey):
            key = SampleKey(int(key), self.img_size)
        with single_threaded():
            return self.sample(key)

    def sample(self, key: SampleKey) -> tuple[Tensor, Tensor, dict]:
        if not self.train:
            image, target, meta = self.prepare(key.index, key.size)
            return normalize(image, self.input_norm), target, meta
        # Seed every random choice of this sample from (seed, epoch, index): the same sample
        # whatever worker draws it. fork_rng keeps the caller's global RNG untouched.
        sample_seed = derive_seed(self.seed, key.epoch, key.index)
        rng = np.random.default_rng(sample_seed)
        if self.reference_augment is not None:
            return self.reference_sample(key, rng)
        if self.ultralytics_augment is not None:
            return self.ultralytics_sample(key, rng)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed)
            image, target, meta = self.prepare(key.index, key.size)
            if key.mixup and len(self) > 1 and rng.random() < self.mixup_prob:
                other = int(rng.integers(len(self) - 1))
                other += other >= key.index  # any image but this one
                image_b, target_b, _ = self.prepare(other, key.size)
                image, target = mixup(image, target, image_b, target_b, sample_lambda(rng))
        return normalize(image, self.input_norm), target, meta

    def prepare(self, index: int, size: int) -> tuple[Tensor, Tensor, dict]:
        """Load, augment (train) and resize one image: (0..1 float image, (N, 6) target, meta)."""
        pil = self.source.load_image(index, self.decoder)
        width, height = pil.size
        image = tv_tensors.Image(F.pil_to_tensor(pil))
        if self.corruption is not None:
            image = self.corrupted(image, index)
        xyxy, labels = self.training_boxes(index, (width, height))
        boxes = to_boxes(torch.from_numpy(xyxy), height, width)
        labels = torch.from_numpy(labels)
        if self.augment is not None:
            out = self.augment({"image": image, "boxes": boxes, "labels": labels})
            image, boxes, labels = out["image"], out["boxes"], out["labels"]
        if self.train:
            image, boxes, scale, pad = resize_to_input(image, boxes, size, self.resize)
        else:
            image, boxes, scale, pad = resize_for_test(image, boxes, size, self.resize, self.test_interp)
        boxes, labels = drop_small_boxes(boxes, labels, self.min_box_size)
        target = torch.cat(
            [labels.float()[:, None], boxes.as_subclass(Tensor).float(), torch.ones(len(labels), 1)], dim=1
        )
        meta = {
            "image_id": self.source.image_ids[index],
            "orig_size": (height, width),
            "scale": scale,
            "pad": pad,
        }
        return to_float01(image.as_subclass(Tensor)), target, meta

    def corrupted(self, image: Tensor, index: int) -> tv_tensors.Image:
        """A decoded uint8 (3, H, W) image with the test-time corruption applied (same size)."""
        array = image.as_subclass(Tensor).permute(1, 2, 0).numpy()
        out = corrupt_image(array, self.corruption, self.seed, self.source.image_ids[index])
        return tv_tensors.Image(torch.from_numpy(out).permute(2, 0, 1).contiguous())

    def training_boxes(self, index: int, image_size: Optional[tuple[int, int]] = None) -> tuple[np.ndarray, np.ndarray]:
        """(xyxy, labels) of image `index`; for training as `crowd_targets`, `keep_difficult`,
        the box convention and `box_clamp` say (the clamp needs the image's (width, height))."""
        if not self.train:
            return self.source.targets(index)
        xyxy, labels = self.source.targets(index, include_crowd=self.crowd_targets,
                                           include_difficult=self.keep_difficult)
        if self.box_shrink:
            xyxy = xyxy.copy()
            xyxy[:, 2:] -= self.box_shrink
        if self.box_clamp:
            if image_size is None:
                raise ValueError("box_clamp needs the image size")
            xyxy, labels = clamp_inclusive_boxes(xyxy, labels, *image_size)
        return xyxy, labels

    def raw_sample(self, index: int) -> Sample:
        """Image `index` as a uint8 (H, W, 3) RGB array with its training boxes."""
        image = np.asarray(self.source.load_image(index))
        xyxy, labels = self.training_boxes(index, (image.shape[1], image.shape[0]))
        return make_sample(image, xyxy, labels)

    def reference_sample(self, key: SampleKey, rng: np.random.Generator) -> tuple[Tensor, Tensor, dict]:
        """`recipe.augment=reference`: mixup of the raw images (while mixup is on, with
        probability `mixup_prob`, when lambda < 1), then the reference's transform."""
        sample = self.raw_sample(key.index)
        orig_size = (sample.height, sample.width)
        if key.mixup and len(self) > 1 and rng.random() < self.mixup_prob:
            lam = draw_lambda(rng)
            if lam < 1.0:
                other = int(rng.integers(len(self) - 1))
                other += other >= key.index  # any image but this one
                sample = blend_raw(sample, self.raw_sample(other), lam)
        out, scale, pad = self.reference_augment(sample, key.size, rng)
        return self.tensor_sample(out, key.index, orig_size, scale, pad)


    def ultralytics_sample(self, key: SampleKey, rng: np.random.Generator) -> tuple[Tensor, Tensor, dict]:
        """`recipe.augment=ultralytics`: mosaic (while `key.mosaic`), affine to the input size,
        HSV, flip. The augmented image is the input: its meta is the identity on its own size.
        The mosaic buffer starts every epoch with the images `fill_mosaic_buffer` draws: a sample
        depends on the samples this process loaded before it in the same epoch only, so a run
        resumed at an epoch continues exactly."""
        mixup_prob = self.mixup_prob if key.mixup else 0.0
        if self.mosaic_buffer is not None and self.mosaic_buffer.start_epoch(key.epoch):
            self.fill_mosaic_buffer(key)
        sample = self.ultralytics_augment(self.raw_sample, key.index, len(self), key.size, key.mosaic, rng,
                                          mixup_prob, self.mosaic_buffer)
        return self.tensor_sample(sample, key.index, (sample.height, sample.width), 1.0, (0, 0))

    def fill_mosaic_buffer(self, key: SampleKey) -> None:
        """A full buffer from an epoch's first sample on, as ultralytics' is after its first epoch:
        as many distinct images as it holds, drawn from (seed, epoch) alone. Empty, an epoch's first
        mosaics would draw from the few images loaded so far (on a small set, a large share of it)."""
        rng = np.random.default_rng(derive_seed(self.seed, key.epoch, BUFFER_FILL_STREAM))
        count = min(self.mosaic_buffer.capacity, len(self))
        for index in rng.choice(len(self), size=count, replace=False):
            self.mosaic_buffer.resized(int(index), key.size, self.raw_sample)

    def tensor_sample(self, sample: Sample, index: int, orig_size: tuple[int, int], scale: Any,
                      pad: tuple[int, int]) -> tuple[Tensor, Tensor, dict]:
        """A numpy-pipeline sample as the loader's (normalised image, (N, 6) target, meta)."""
        image = normalize(to_float01(torch.from_numpy(np.ascontiguousarray(sample.image)).permute(2, 0, 1)),
                          self.input_norm)
        target = torch.from_numpy(
            np.column_stack([sample.labels, sample.boxes, sample.weights]).astype(np.float32).reshape(-1, 6)
        )
        meta = {"image_id": self.source.image_ids[index], "orig_size": orig_size, "scale": scale, "pad": pad}
        return image, target, meta


def collate(batch: list[tuple[Tensor, Tensor, dict]]) -> tuple[Tensor, Tensor, list[dict]]:
    """Stack images; concatenate targets with their image index first -> (M, 7)."""
    images = torch.stack([sample[0] for sample in batch])
    rows = [
        torch.cat([torch.full((len(target), 1), float(i)), target], dim=1)
        for i, (_, target, _) in enumerate(batch)
    ]
    targets = torch.cat(rows, dim=0) if rows else torch.zeros(0, 7)
    return images, targets, [sample[2] for sample in batch]

