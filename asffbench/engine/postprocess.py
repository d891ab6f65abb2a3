"""From raw level outputs to detections: decoding, class-wise NMS, mapping to original pixels."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

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


def candidate_scores(levels: Sequence[LevelOutput], multi_label: bool) -> tuple[Tensor, Tensor, Optional[Tensor]]:
    """Boxes (B, N, 4) and the score obj * class prob of every candidate: (B, N * C), flat index
    box * C + class, with `multi_label`; else (B, N), each box's best class, given as (B, N)."""
    boxes, objectness, class_probs = decode(levels)
    boxes, objectness, class_probs = boxes.float(), objectness.float(), class_probs.float()
    batch, num_preds, num_classes = class_probs.shape
    if multi_label:
        return boxes, (objectness[..., None] * class_probs).reshape(batch, num_preds * num_classes), None
    best_prob, best_class = class_probs.max(dim=2)
    return boxes, objectness * best_prob, best_class


@torch.no_grad()
def nms_candidate_counts(
    levels: Sequence[LevelOutput], score_thresh: float = 0.001, pre_nms_topk: int = 10000,
    multi_label: bool = True, score_inclusive: bool = False,
) -> Tensor:
    """How many candidates of each image enter NMS in `postprocess` (B,)."""
    _boxes, scores, _best = candidate_scores(levels, multi_label)
    top_scores = scores.topk(min(pre_nms_topk, scores.shape[1]), dim=1).values
    return above(top_scores, score_thresh, score_inclusive).sum(dim=1)


def above(scores: Tensor, score_thresh: float, inclusive: bool) -> Tensor:
    """Scores that pass the threshold: > it, or >= it (`recipe.score_inclusive`, the reference's)."""
    return scores >= score_thresh if inclusive else scores > score_thresh


def nms_candidates(levels: Sequence[LevelOutput], score_thresh: float, pre_nms_topk: int,
                   multi_label: bool, score_inclusive: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The candidates entering NMS, flat over the batch: boxes (K, 4), scores (K,), labels (K,)
    and each one's image (K,). Traceable: the exported `nms` graph selects them alike."""
    boxes, scores, best_class = candidate_scores(levels, multi_label)
    num_classes = levels[0].pred.shape[-1] - 5
    top_scores, top_index = scores.topk(min(pre_nms_topk, scores.shape[1]), dim=1)
    candidate = above(top_scores, score_thresh, score_inclusive)
    # Each row's image from a tensor op, not arange(batch): a trace would freeze the batch size.
    image_index = (torch.ones_like(top_index).cumsum(dim=0) - 1)[candidate]
    cand_scores = top_scores[candidate]
    flat_index = top_index[candidate]
    if multi_label:
        box_index = torch.div(flat_index, num_classes, rounding_mode="floor")
        cand_labels = flat_index % num_classes
    else:
        box_index = flat_index
        cand_labels = best_class[image_index, box_index]
    return boxes[image_index, box_index], cand_scores, cand_labels, image_index


@torch.no_grad()
def postprocess(
    levels: Sequence[LevelOutput],
    score_thresh: float = 0.001,
    nms_iou: float = 0.65,
    max_det: int = 100,
    pre_nms_topk: int = 10000,
    multi_label: bool = True,
    score_inclusive: bool = False,
) -> list[dict[str, Tensor]]:
    """Detections per image: `{"boxes": (K, 4) xyxy input px, "scores": (K,), "labels": (K,)}`,
    sorted by decreasing score, K <= max_det (no cap when max_det is 0).

    Candidates are scored obj * class prob and kept above `score_thresh` (or at it too, with
    `score_inclusive`). With `multi_label` every
    (box, class) pair is a candidate (as COCO evaluation of YOLOv3 does); without it only each
    box's best class is (the ASFF reference). At most `pre_nms_topk` best candidates per image go
    to NMS, which runs per image and class in one `batched_nms` call.
    """
    cand_boxes, cand_scores, cand_labels, image_index = nms_candidates(
        levels, score_thresh, pre_nms_topk, multi_label, score_inclusive)
    batch, num_classes = levels[0].pred.shape[0], levels[0].pred.shape[-1] - 5
    # One group per (image, class): class-wise NMS for the whole batch at once.
    kept = batched_nms(cand_boxes, cand_scores, image_index * num_classes + cand_labels, nms_iou)
    # batched_nms sorts by score; a stable sort by image keeps that order within each image.
    kept = kept[torch.sort(image_index[kept], stable=True).indices]
    kept_images = image_index[kept]
    counts = torch.bincount(kept_images, minlength=batch)
    starts = torch.cumsum(counts, dim=0) - counts
    rank = torch.arange(kept.numel(), device=kept.device) - starts[kept_images]
    if max_det > 0:
        kept = kept[rank < max_det]
    per_image = torch.bincount(image_index[kept], minlength=batch).tolist()

    per_image_boxes = cand_boxes[kept].split(per_image)
    per_image_scores = cand_scores[kept].split(per_image)
    per_image_labels = cand_labels[kept].split(per_image)
    return [
        {"boxes": image_boxes, "scores": image_scores, "labels": image_labels}
        for image_boxes, image_scores, image_labels in zip(per_image_boxes, per_image_scores, per_image_labels)
    ]


def boxes_to_original(boxes: Tensor, meta: Mapping[str, Any], clip: bool = True) -> Tensor:
    """Map xyxy boxes from input pixels back to the original image, clipped to it (`clip`; the
    reference leaves them as they are: `recipe.clip_boxes`).

    `meta` is a loader meta dict: `{"orig_size": (h, w), "scale": s or (sx, sy), "pad": (left,
    top)}` with input px = orig px * scale + pad (one scale for a letterbox, two for a stretch).
    """
    left, top = meta["pad"]
    offset = torch.tensor([left, top, left, top], dtype=boxes.dtype, device=boxes.device)
    scale_x, scale_y = torch.as_tensor(meta["scale"], dtype=torch.float64).expand(2).tolist()
    scale = torch.tensor([scale_x, scale_y, scale_x, scale_y], dtype=boxes.dtype, device=boxes.device)
    original = (boxes - offset) / scale
    if not clip:
        return original
    height, width = meta["orig_size"]
    return clip_boxes_to_image(original, (int(height), int(width)))
