"""Detection augmentation on torchvision.transforms.v2 with tv_tensors.BoundingBoxes.

Train: photometric distortion, random zoom-out (expand), random IoU crop, horizontal flip (the
SSD-style recipe of the YOLOv3 reference), then resize to the batch's square size. Test time
(evaluation, predict, viz, benchmark on real images): the resize only (`data.test_time`, which
can use OpenCV's instead). The resize is a letterbox or a stretch (`recipe.train_resize`,
`recipe.test_resize`), here always through `resize_to_input`.
Then boxes are clamped and those under the minimum size dropped, and the image normalised as
the model family expects (`BackboneInfo.input_norm`: the ImageNet mean/std for YOLOv3, RGB / 255
alone for YOLOv8), after mixup, which works on 0..1 floats.
"""

from __future__ import annotations

from typing import Any, Union

import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from asffbench.config.schema import choice_str
from asffbench.models.input_norm import IMAGENET_NORM, InputNorm

IMAGENET_MEAN = IMAGENET_NORM.mean  # the reference pipeline's grey fills are derived from it
IMAGENET_STD = IMAGENET_NORM.std
PAD_VALUE = 114  # grey letterbox / expand fill (uint8)
RESIZE_MODES = ("letterbox", "stretch")
# x and y scale of the resize: one float for a letterbox, an (sx, sy) pair for a stretch.
Scale = Union[float, tuple[float, float]]


class PhotometricDistort(v2.RandomPhotometricDistort):
    """torchvision's SSD photometric distortion (brightness, contrast, saturation, hue, each with
    probability p) without its random permutation of the colour channels: the reference does not
    permute, and on classes told apart by colour a permutation teaches the wrong class."""

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        params = super().make_params(flat_inputs)
        params["channel_permutation"] = None
        return params


def build_train_augment(expand_max: float = 2.0) -> v2.Compose:
    """Geometric + photometric augmentation of a uint8 image with its boxes and labels.

    `expand_max`: the largest zoom-out factor (asffbench 2: the SSD recipe's 4, which the
    reference uses, is harsh on small training inputs).
    """
    return v2.Compose([
        PhotometricDistort(p=0.5),
        v2.RandomZoomOut(fill=PAD_VALUE, side_range=(1.0, float(expand_max)), p=0.5),
        v2.RandomApply([v2.RandomIoUCrop()], p=0.5),
        v2.RandomHorizontalFlip(p=0.5),
    ])


def to_boxes(xyxy: Tensor, height: int, width: int) -> tv_tensors.BoundingBoxes:
    return tv_tensors.BoundingBoxes(xyxy, format="XYXY", canvas_size=(height, width))


def letterbox_geometry(height: int, width: int, size: int) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """A letterbox of a height x width image into size x size: (scale, (new_h, new_w), (left, top))."""
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    return scale, (new_h, new_w), ((size - new_w) // 2, (size - new_h) // 2)


def letterbox(
    image: Tensor, boxes: tv_tensors.BoundingBoxes, size: int
) -> tuple[Tensor, tv_tensors.BoundingBoxes, float, tuple[int, int]]:
    """Resize keeping the aspect ratio so the longer side is `size`, then pad to size x size.

    Returns the image, the boxes, the scale and the (left, top) padding: new = old * scale + pad
    (per axis the exact factor is round(side * scale) / side, within half a pixel of `scale`).
    """
    height, width = image.shape[-2:]
    scale, (new_h, new_w), (left, top) = letterbox_geometry(height, width, size)
    if (new_h, new_w) != (height, width):
        image = F.resize(image, [new_h, new_w], antialias=True)
        boxes = F.resize(boxes, [new_h, new_w])
    padding = [left, top, size - new_w - left, size - new_h - top]
    if any(padding):
        image = F.pad(image, padding, fill=PAD_VALUE)
        boxes = F.pad(boxes, padding)
    return image, boxes, scale, (left, top)


def stretch(
    image: Tensor, boxes: tv_tensors.BoundingBoxes, size: int
) -> tuple[Tensor, tv_tensors.BoundingBoxes, tuple[float, float], tuple[int, int]]:
    """Resize each axis to `size` (no padding): returns the image, the boxes, the (sx, sy) scale
    and a zero padding, new = old * scale per axis."""
    height, width = image.shape[-2:]
    if (height, width) != (size, size):
        image = F.resize(image, [size, size], antialias=True)
        boxes = F.resize(boxes, [size, size])
    return image, boxes, (size / width, size / height), (0, 0)


def resize_to_input(
    image: Tensor, boxes: tv_tensors.BoundingBoxes, size: int, mode: str
) -> tuple[Tensor, tv_tensors.BoundingBoxes, Scale, tuple[int, int]]:
    """The one resize to the square model input, for training and test time alike:
    `letterbox` or `stretch`. Returns (image, boxes, scale, (left, top) pad)."""
    mode = choice_str(mode)  # a str enum from the config
    if mode == "letterbox":
        return letterbox(image, boxes, size)
    if mode == "stretch":
        return stretch(image, boxes, size)
    raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")


def drop_small_boxes(
    boxes: tv_tensors.BoundingBoxes, labels: Tensor, min_size: float
) -> tuple[tv_tensors.BoundingBoxes, Tensor]:
    """Clamp boxes to the image and drop those with a side below `min_size` pixels."""
    boxes = F.clamp_bounding_boxes(boxes)
    sample = {"boxes": boxes, "labels": labels}
    out = v2.SanitizeBoundingBoxes(min_size=min_size)(sample)
    return out["boxes"], out["labels"]


def normalize(image01: Tensor, norm: InputNorm = IMAGENET_NORM) -> Tensor:
    """(3, H, W) float in 0..1 -> the model's input: (x - mean) / std per channel (`norm`)."""
    if norm.is_identity:
        return image01
    return F.normalize(image01, mean=list(norm.mean), std=list(norm.std))


def to_float01(image: Tensor) -> Tensor:
    return F.to_dtype(image, torch.float32, scale=True)
