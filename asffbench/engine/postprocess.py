"""From raw level outputs to detections: decoding, class-wise NMS, mapping to original pixels."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import Tensor
from torchvision.ops import batched_nms, clip_boxes_to_image

from asffbench.engine.box_coding import decode_level
from asffbench.models.outputs import LevelOutput


def decode(levels: Sequence[LevelOutput]) -> tuple[Tensor, Tensor, Tensor]:
    """All predictions of all levels: boxes (B, N, 4) xyxy input px, objectness (B, N) and
    class probabilities (B, N, C), as probabilities (sigmoid applied).

    N runs over the levels in order, each flattened as (slot, y, x).
    """
    boxes, objectness, class_probs = [], [], []
    for level in levels:
        batch = level.pred.shape[0]
        boxes.append(decode_level(level).reshape(batch, -1, 4))
        objectness.append(level.pred[..., 4].sigmoid().reshape(batch, -1))
        class_probs.append(level.pred[..., 5:].sigmoid().reshape(batch, -1, level.pred.shape[-1] - 5))
    return torch.cat(boxes, dim=1), torch.cat(objectness, dim=1), torch.cat(class_probs, dim=1)


def top_pairs(levels: Sequence[LevelOutput], pre_nms_topk: int) -> tuple[Tensor, Tensor, Tensor, int]:
    """Boxes (B, N, 4) and, per image, the `pre_nms_topk` best (box, class) scores (B, K) with
    their flat index box * C + class (B, K); plus C."""
    boxes, objectness, class_probs = decode(levels)
    boxes, objectness, class_probs = boxes.float(), objectness.float(), class_probs.float()
    batch, num_preds, num_classes = class_probs.shape
    scores = (objectness[..., None] * class_probs).reshape(batch, num_preds * num_classes)
    top_scores, top_index = scores.topk(min(pre_nms_topk, scores.shape[1]), dim=1)
    return boxes, top_scores, top_index, num_classes


@torch.no_grad()
def nms_candidate_counts(
    levels: Sequence[LevelOutput], score_thresh: float = 0.001, pre_nms_topk: int = 10000
) -> Tensor:
    """How many (box, class) pairs of each image enter NMS in `postprocess` (B,)."""
    _boxes, top_scores, _index, _classes = top_pairs(levels, pre_nms_topk)
    return (top_scores > score_thresh).sum(dim=1)


@torch.no_grad()
def postprocess(
    levels: Sequence[LevelOutput],
    score_thresh: float = 0.001,
    nms_iou: float = 0.65,
    max_det: int = 100,
    pre_nms_topk: int = 10000,
) -> list[dict[str, Tensor]]:
    """Detections per image: `{"boxes": (K, 4) xyxy input px, "scores": (K,), "labels": (K,)}`,
    sorted by decreasing score, K <= max_det.

    Every (box, class) pair with obj * class prob above `score_thresh` is a candidate (multi-label,
    as COCO evaluation of YOLOv3 does); at most `pre_nms_topk` best pairs per image go to NMS, which
    runs per image and class in one `batched_nms` call.
    """
    boxes, top_scores, top_index, num_classes = top_pairs(levels, pre_nms_topk)
    batch = boxes.shape[0]
    candidate = top_scores > score_thresh
    image_index = torch.arange(batch, device=top_scores.device)[:, None].expand_as(top_index)[candidate]
    cand_scores = top_scores[candidate]
    flat_index = top_index[candidate]
    box_index = torch.div(flat_index, num_classes, rounding_mode="floor")
    cand_labels = flat_index % num_classes
    cand_boxes = boxes[image_index, box_index]

    # One group per (image, class): class-wise NMS for the whole batch at once.
    kept = batched_nms(cand_boxes, cand_scores, image_index * num_classes + cand_labels, nms_iou)
    # batched_nms sorts by score; a stable sort by image keeps that order within each image.
    kept = kept[torch.sort(image_index[kept], stable=True).indices]
    kept_images = image_index[kept]
    counts = torch.bincount(kept_images, minlength=batch)
    starts = torch.cumsum(counts, dim=0) - counts
    rank = torch.arange(kept.numel(), device=kept.device) - starts[kept_images]
    kept = kept[rank < max_det]
    per_image = torch.bincount(image_index[kept], minlength=batch).tolist()

    per_image_boxes = cand_boxes[kept].split(per_image)
    per_image_scores = cand_scores[kept].split(per_image)
    per_image_labels = cand_labels[kept].split(per_image)
    return [
        {"boxes": image_boxes, "scores": image_scores, "labels": image_labels}
        for image_boxes, image_scores, image_labels in zip(per_image_boxes, per_image_scores, per_image_labels)
    ]


def boxes_to_original(boxes: Tensor, meta: Mapping[str, Any]) -> Tensor:
    """Map xyxy boxes from input pixels back to the original image, clipped to it.

    `meta` is a loader meta dict: `{"orig_size": (h, w), "scale": s, "pad": (left, top)}` with
    input px = orig px * scale + pad.
    """
    left, top = meta["pad"]
    offset = torch.tensor([left, top, left, top], dtype=boxes.dtype, device=boxes.device)
    original = (boxes - offset) / float(meta["scale"])
    height, width = meta["orig_size"]
    return clip_boxes_to_image(original, (int(height), int(width)))
