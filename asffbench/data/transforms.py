"""Detection augmentation on torchvision.transforms.v2 with tv_tensors.BoundingBoxes.

Train: photometric distortion, random zoom-out (expand), random IoU crop, horizontal flip (the
SSD-style recipe of the YOLOv3 reference), then letterbox to the batch's square size. Val:
letterbox only. Then boxes are clamped and those under the minimum size dropped, and the image
normalised with the ImageNet mean/std (after mixup, which works on 0..1 floats).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PAD_VALUE = 114  # grey letterbox / expand fill (uint8)


def build_train_augment() -> v2.Compose:
    """Geometric + photometric augmentation of a uint8 image with its boxes and labels."""
    return v2.Compose([
        v2.RandomPhotometricDistort(p=0.5),
        # Zoom-out to at most 2x: the SSD recipe uses 4x, too harsh for small training inputs.
        v2.RandomZoomOut(fill=PAD_VALUE, side_range=(1.0, 2.0), p=0.5),
        v2.RandomApply([v2.RandomIoUCrop()], p=0.5),
        v2.RandomHorizontalFlip(p=0.5),
    ])


def to_boxes(xyxy: Tensor, height: int, width: int) -> tv_tensors.BoundingBoxes:
    return tv_tensors.BoundingBoxes(xyxy, format="XYXY", canvas_size=(height, width))


def letterbox(
    image: Tensor, boxes: tv_tensors.BoundingBoxes, size: int
) -> tuple[Tensor, tv_tensors.BoundingBoxes, float, tuple[int, int]]:
    """Resize keeping the aspect ratio so the longer side is `size`, then pad to size x size.

    Returns the image, the boxes, the scale and the (left, top) padding: new = old * scale + pad
    (per axis the exact factor is round(side * scale) / side, within half a pixel of `scale`).
    """
    height, width = image.shape[-2:]
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    if (new_h, new_w) != (height, width):
        image = F.resize(image, [new_h, new_w], antialias=True)
        boxes = F.resize(boxes, [new_h, new_w])
    left, top = (size - new_w) // 2, (size - new_h) // 2
    padding = [left, top, size - new_w - left, size - new_h - top]
    if any(padding):
        image = F.pad(image, padding, fill=PAD_VALUE)
        boxes = F.pad(boxes, padding)
    return image, boxes, scale, (left, top)


def drop_small_boxes(
    boxes: tv_tensors.BoundingBoxes, labels: Tensor, min_size: float
) -> tuple[tv_tensors.BoundingBoxes, Tensor]:
    """Clamp boxes to the image and drop those with a side below `min_size` pixels."""
    boxes = F.clamp_bounding_boxes(boxes)
    sample = {"boxes": boxes, "labels": labels}
    out = v2.SanitizeBoundingBoxes(min_size=min_size)(sample)
    return out["boxes"], out["labels"]


def normalize(image01: Tensor) -> Tensor:
    """(3, H, W) float in 0..1 -> ImageNet-normalised float."""
    return F.normalize(image01, mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD))


def to_float01(image: Tensor) -> Tensor:
    return F.to_dtype(image, torch.float32, scale=True)
