"""The test-time pipeline of one image (evaluation, predict, viz, the benchmark's val images):
its decoder and its resize to the square input, `recipe.test_interp`:

- `torchvision` (asffbench's): PIL decode, torchvision's bilinear resize with antialiasing;
- `opencv_linear` (the reference's `eval.py`): OpenCV decode, `cv2.INTER_LINEAR` without
  antialiasing, so a downscaled image keeps more aliasing than asffbench's.

Both decoders apply the EXIF orientation and give RGB; the resize is a letterbox or a stretch
(`recipe.test_resize`) with the same geometry either way, so detections map back alike.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor
from torchvision import tv_tensors

from asffbench.config.schema import choice_str
from asffbench.data.opencv_resize import resize_array, scale_boxes
from asffbench.data.transforms import Scale, normalize, resize_to_input, to_boxes, to_float01
from asffbench.models.input_norm import IMAGENET_NORM, InputNorm

DECODERS = {"torchvision": "pil", "opencv_linear": "opencv"}  # which library decodes the file
TEST_INTERPS = tuple(DECODERS)


def checked_interp(interp: str) -> str:
    """`recipe.test_interp` as a plain str, refused unless one of TEST_INTERPS."""
    interp = choice_str(interp)
    if interp not in DECODERS:
        raise ValueError(f"test_interp must be one of {TEST_INTERPS}, got {interp!r}")
    return interp


def decoder_of(interp: str) -> str:
    """The image decoder `load_rgb` uses under `recipe.test_interp=interp`."""
    return DECODERS[checked_interp(interp)]


def resize_for_test(
    image: Tensor, boxes: tv_tensors.BoundingBoxes, size: int, mode: str, interp: str
) -> tuple[Tensor, tv_tensors.BoundingBoxes, Scale, tuple[int, int]]:
    """A uint8 (3, H, W) image and its boxes resized to size x size as `interp` says:
    (image, boxes, scale, (left, top) pad), input px = px * scale + pad."""
    if checked_interp(interp) == "torchvision":
        return resize_to_input(image, boxes, size, mode)
    array = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
    resized, scale, pad = resize_array(array, size, mode, cv2.INTER_LINEAR)
    moved = scale_boxes(boxes.as_subclass(Tensor).numpy().astype(np.float64), scale, pad)
    return (torch.from_numpy(resized).permute(2, 0, 1).contiguous(),
            to_boxes(torch.from_numpy(moved).float(), size, size), scale, pad)


def preprocess_test_image(image: Tensor, size: int, mode: str, interp: str = "torchvision",
                          norm: InputNorm = IMAGENET_NORM) -> tuple[Tensor, Tensor, dict]:
    """A uint8 (3, H, W) RGB image as the model sees it at test time (normalised by `norm`, the
    model family's `BackboneInfo.input_norm`).

    Returns (normalised (3, S, S) input, resized uint8 (3, S, S) for display, meta) with
    meta = `{"orig_size": (h, w), "scale", "pad"}`, the mapping `boxes_to_original` undoes.
    """
    height, width = image.shape[-2:]
    no_boxes = to_boxes(torch.zeros(0, 4), height, width)
    resized, _, scale, pad = resize_for_test(image, no_boxes, size, mode, interp)
    resized = resized.as_subclass(Tensor)
    meta = {"orig_size": (int(height), int(width)), "scale": scale, "pad": pad}
    return normalize(to_float01(resized), norm), resized, meta
