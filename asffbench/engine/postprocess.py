"""From raw level outputs (either family's) to detections: decoding, class-wise NMS, mapping to
original pixels."""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

import torch
from torch import Tensor
from torchvision.ops import batched_nms, clip_boxes_to_image

from asffbench.engine.anchor_free_coding import decode_anchor_free
from asffbench.engine.box_coding import decode_level
from asffbench.models.outputs import AnchorFreeLevel, LevelOutput


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


def decode_anchor_free_levels(levels: Sequence[AnchorFreeLevel]) -> tuple[Tensor, Tensor, Tensor]:
    """`decode`'s three tensors for the anchor-free family: boxes (B, N, 4) xyxy input px, an
    objectness of ones (B, N) (the family has none: its score is the class probability) and the
    class probabilities (B, N, C), N over the levels in order, each flattened as (y, x)."""
    boxes, class_probs = decode_anchor_free(levels)
    return boxes, torch.ones_like(class_probs[..., 0]), class_probs


# How each kind of level decodes to (boxes, objectness, class probabilities): the exported
# `decode` graph's outputs, one form for both families (score = objectness x class probability).
DECODERS: dict[type, Callable[[Sequence[Any]], tuple[Tensor, Tensor, Tensor]]] = {
    LevelOutput: decode,
    AnchorFreeLevel: decode_anchor_free_levels,
}


def decoded(levels: Sequence[Any]) -> tuple[Tensor, Tensor, Tensor]:
    """Boxes (B, N, 4), objectness (B, N) and class probabilities (B, N, C), whatever the level kind."""
    return DECODERS[type(levels[0])](levels)


def anchor_based_scores(levels: Sequence[LevelOutput]) -> tuple[Tensor, Tensor]:
    """Boxes (B, N, 4) and per-class scores obj x class prob (B, N, C) of YOLOv3's levels."""
    boxes, objectness, class_probs = decode(levels)
    return boxes.float(), objectness.float()[..., None] * class_probs.float()


def anchor_free_scores(levels: Sequence[AnchorFreeLevel]) -> tuple[Tensor, Tensor]:
    """Boxes (B, N, 4) and per-class scores = class prob (B, N, C) of the anchor-free family's
    levels (no objectness)."""
    boxes, class_probs = decode_anchor_free(levels)
    return boxes.float(), class_probs.float()


# How each kind of level becomes scored boxes: the one place the post-processing tells them apart.
SCORERS: dict[type, Callable[[Sequence[Any]], tuple[Tensor, Tensor]]] = {
    LevelOutput: anchor_based_scores,
    AnchorFreeLevel: anchor_free_scores,
}


def box_scores(levels: Sequence[Any]) -> tuple[Tensor, Tensor]:
    """Boxes (B, N, 4) xyxy input px and their per-class scores (B, N, C), whatever the level kind."""
    return SCORERS[type(levels[0])](levels)


def candidate_scores(levels: Sequence[Any], multi_label: bool) -> tuple[Tensor, Tensor, Optional[Tensor], int]:
    """Boxes (B, N, 4), the score of every candidate and the number of classes C: with
    `multi_label` the scores are (B, N * C), flat index box * C + class; else (B, N), each box's
    best class, given as (B, N)."""
    boxes, scores = box_scores(levels)
    batch, num_preds, num_classes = scores.shape
    if multi_label:
        return boxes, scores.reshape(batch, num_preds * num_classes), None, num_classes
    best_score, best_class = scores.max(dim=2)
    return boxes, best_score, best_class, num_classes


@torch.no_grad()
def nms_candidate_counts(
    levels: Sequence[Any], score_thresh: float = 0.001, pre_nms_topk: int = 10000,
    multi_label: bool = True, score_inclusive: bool = False,
) -> Tensor:
    """How many candidates of each image enter NMS in `postprocess` (B,)."""
    _boxes, scores, _best, _classes = candidate_scores(levels, multi_label)
    top_scores = scores.topk(min(pre_nms_topk, scores.shape[1]), dim=1).values
    return above(top_scores, score_thresh, score_inclusive).sum(dim=1)


def above(scores: Tensor, score_thresh: float, inclusive: bool) -> Tensor:
    """Scores that pass the threshold: > it, or >= it (`recipe.score_inclusive`, the reference's)."""
    return scores >= score_thresh if inclusive else scores > score_thresh


class Candidates(NamedTuple):
    """The candidates entering NMS, flat over the batch."""

    boxes: Tensor  # (K, 4) xyxy input px
    scores: Tensor  # (K,)
    labels: Tensor  # (K,)
    image_index: Tensor  # (K,)
    num_classes: int


def nms_candidates(levels: Sequence[Any], score_thresh: float, pre_nms_topk: int,
                   multi_label: bool, score_inclusive: bool = False) -> Candidates:
    """The candidates entering NMS: the `pre_nms_topk` best of each image above the threshold.
    Traceable: the exported `nms` graph selects them alike."""
    boxes, scores, best_class, num_classes = candidate_scores(levels, multi_label)
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
    return Candidates(boxes[image_index, box_index], cand_scores, cand_labels, image_index, num_classes)


def class_wise_nms(candidates: Candidates, nms_iou: float, class_offset: float = 0.0) -> Tensor:
    """Indices of the candidates NMS keeps, per image and class, in decreasing score.

    `class_offset` 0: one `batched_nms` group per (image, class). Above 0, ultralytics' way: each
    box shifted by class x offset px in its own float32 arithmetic (whose rounding, ~0.06 px at
    class 79 x 7680, can change what NMS keeps), one group per image; the shifted boxes go to NMS
    in float64, so the per-image groups add no rounding of their own.
    """
    boxes, scores, labels, image_index, num_classes = candidates
    if class_offset <= 0:
        return batched_nms(boxes, scores, image_index * num_classes + labels, nms_iou)
    shifted = boxes + (labels.to(boxes.dtype) * class_offset)[:, None]
    return batched_nms(shifted.double(), scores.double(), image_index, nms_iou)


@torch.no_grad()
def postprocess(
    levels: Sequence[Any],
    score_thresh: float = 0.001,
    nms_iou: float = 0.65,
    max_det: int = 100,
    pre_nms_topk: int = 10000,
    multi_label: bool = True,
    score_inclusive: bool = False,
    class_offset: float = 0.0,
) -> list[dict[str, Tensor]]:
    """Detections per image: `{"boxes": (K, 4) xyxy input px, "scores": (K,), "labels": (K,)}`,
    sorted by decreasing score, K <= max_det (no cap when max_det is 0).

    `levels` are YOLOv3's `LevelOutput`s (score = obj x class prob) or the anchor-free family's
    `AnchorFreeLevel`s (score = class prob). Candidates are kept above `score_thresh` (or at it
    too, with `score_inclusive`). With `multi_label` every (box, class) pair is a candidate (as
    COCO evaluation of YOLOv3 does); without it only each box's best class is (the ASFF
    reference). At most `pre_nms_topk` best candidates per image go to NMS, which runs per image
    and class (`class_wise_nms`, `class_offset`) in one `batched_nms` call.
    """
    candidates = nms_candidates(levels, score_thresh, pre_nms_topk, multi_label, score_inclusive)
    image_index = candidates.image_index
    batch = levels[0].pred.shape[0]
    kept = class_wise_nms(candidates, nms_iou, class_offset)
    # batched_nms sorts by score; a stable sort by image keeps that order within each image.
    kept = kept[torch.sort(image_index[kept], stable=True).indices]
    kept_images = image_index[kept]
    counts = torch.bincount(kept_images, minlength=batch)
    starts = torch.cumsum(counts, dim=0) - counts
    rank = torch.arange(kept.numel(), device=kept.device) - starts[kept_images]
    if max_det > 0:
        kept = kept[rank < max_det]
    per_image = torch.bincount(image_index[kept], minlength=batch).tolist()

    per_image_boxes = candidates.boxes[kept].split(per_image)
    per_image_scores = candidates.scores[kept].split(per_image)
    per_image_labels = candidates.labels[kept].split(per_image)
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
