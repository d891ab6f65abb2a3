"""Box geometry shared by the loss and the post-processing: grids, YOLOv3 decoding, shape IoU."""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import box_convert, box_iou

from asffbench.models.outputs import LevelOutput


def cell_grid(height: int, width: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """(H, W, 2) tensor holding the (x, y) index of every cell."""
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=dtype),
        torch.arange(width, device=device, dtype=dtype),
        indexing="ij",
    )
    return torch.stack((xs, ys), dim=-1)


def decode_level(level: LevelOutput) -> Tensor:
    """Boxes (B, S, H, W, 4) xyxy in input pixels from one level's raw predictions.

    cx = (sigmoid(tx) + grid_x) * stride, w = anchor_w * exp(tw) (see `LevelOutput`).
    """
    pred = level.pred
    height, width = pred.shape[2], pred.shape[3]
    grid = cell_grid(height, width, pred.device, pred.dtype)
    centre = (pred[..., :2].sigmoid() + grid) * level.stride
    size = level.anchors.to(pred.dtype) * pred[..., 2:4].exp()
    return box_convert(torch.cat((centre, size), dim=-1), "cxcywh", "xyxy")


def wh_iou(wh_a: Tensor, wh_b: Tensor) -> Tensor:
    """IoU of boxes sharing one centre, from their (w, h) (..., 2); broadcasts like `*`."""
    inter = torch.minimum(wh_a[..., 0], wh_b[..., 0]) * torch.minimum(wh_a[..., 1], wh_b[..., 1])
    union = wh_a[..., 0] * wh_a[..., 1] + wh_b[..., 0] * wh_b[..., 1] - inter
    return inter / union.clamp(min=1e-12)


def paired_box_iou(boxes_a: Tensor, boxes_b: Tensor) -> Tensor:
    """IoU of row i of `boxes_a` with row i of `boxes_b` (xyxy (K, 4) each) -> (K,)."""
    top_left = torch.maximum(boxes_a[:, :2], boxes_b[:, :2])
    bottom_right = torch.minimum(boxes_a[:, 2:], boxes_b[:, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=1)
    union = (boxes_a[:, 2:] - boxes_a[:, :2]).prod(dim=1) + (boxes_b[:, 2:] - boxes_b[:, :2]).prod(dim=1) - inter
    return inter / union.clamp(min=1e-12)


# box_iou for a batch of images: (B, N, 4) x (B, G, 4) -> (B, N, G).
batched_box_iou = torch.vmap(box_iou)
