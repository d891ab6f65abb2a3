"""The one inference loop: batches -> model -> decoded, NMS'd detections in original pixels.

Evaluation (the val loader), predict (image files), viz (per-level detections beside the
fusion weights) and the benchmark's NMS-candidate count (timed batches) all run it, so the test
time pipeline is written once. A batch is `(images, targets, metas)` as the loaders yield it
(`targets` may be None and `metas` empty where nothing is mapped back, as in the benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from asffbench.engine.postprocess import boxes_to_original, postprocess
from asffbench.models.outputs import DetectorOutput
from asffbench.settings import PostprocessSettings

Batch = tuple[Tensor, Any, Sequence[Mapping[str, Any]]]


@dataclass
class Forwarded:
    """One batch through the model: its output and what the loader gave with it."""

    output: DetectorOutput
    targets: Any
    metas: Sequence[Mapping[str, Any]]


@dataclass
class Inferred(Forwarded):
    """`Forwarded` plus the detections of each image, boxes xyxy in original-image pixels (CPU),
    and with `per_level` the detections each level makes alone (per level, per image; input px)."""

    detections: list[dict[str, Tensor]]
    level_detections: Optional[list[list[dict[str, Tensor]]]] = None


def forward_batches(model: nn.Module, batches: Iterable[Batch], device: torch.device, *,
                    fusion_weights: bool = False, channels_last: bool = False) -> Iterator[Forwarded]:
    """The model's output on each batch (in eval mode; the caller chooses the grad/autocast mode).
    Floating-point images take the dtype of the model's parameters (a half model gets half images)."""
    model.eval()
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None and parameter.is_floating_point() else None
    for images, targets, metas in batches:
        images = images.to(device, non_blocking=True).contiguous(memory_format=memory_format)
        if dtype is not None and images.is_floating_point():
            images = images.to(dtype)
        # Ask for fusion weights only when wanted: a stand-in model need not take the keyword.
        output = model(images, return_fusion_weights=True) if fusion_weights else model(images)
        yield Forwarded(output, targets, metas)


@torch.no_grad()
def infer(model: nn.Module, batches: Iterable[Batch], device: torch.device, settings: PostprocessSettings, *,
          fusion_weights: bool = False, per_level: bool = False) -> Iterator[Inferred]:
    """Detections of every batch: decoding + class-wise NMS (`postprocess`), mapped back to the
    original pixels of each image by its meta."""
    for step in forward_batches(model, batches, device, fusion_weights=fusion_weights):
        found = postprocess(step.output.levels, **settings.kwargs())
        levels = None
        if per_level:
            levels = [[cpu(det) for det in postprocess([level], **settings.kwargs())] for level in step.output.levels]
        detections = [to_original(det, meta, settings.clip_boxes) for det, meta in zip(found, step.metas)]
        yield Inferred(step.output, step.targets, step.metas, detections, levels)


def cpu(detections: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {"boxes": detections["boxes"].float().cpu(), "scores": detections["scores"].float().cpu(),
            "labels": detections["labels"].cpu()}


def to_original(detections: Mapping[str, Tensor], meta: Mapping[str, Any], clip: bool = True) -> dict[str, Tensor]:
    found = cpu(detections)
    return {**found, "boxes": boxes_to_original(found["boxes"], meta, clip)}


def single_images(items: Iterable[tuple[Tensor, Any, Mapping[str, Any]]]) -> Iterator[Batch]:
    """Dataset items `(image, target, meta)` as batches of one (predict, viz)."""
    for image, target, meta in items:
        yield image[None], target, [meta]
