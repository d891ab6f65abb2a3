"""What the exported graph computes: the detector's raw outputs, optionally decoded and NMS-ed.

Three graph forms (`GRAPHS`):
- `raw`: per level `pred_<i>` (B, S, H, W, 5 + C) and `anchors_<i>` (B, S, H, W, 2), exactly what
  `LevelOutput` holds, so the ONNX Runtime outputs go through the same post-processing as eager;
  for the anchor-free family `pred_<i>` (B, 4 x reg_max + C, H, W) alone, what `AnchorFreeLevel`
  holds (`reg_max` > 0 says which);
- `decode`: `boxes` (B, N, 4) xyxy input px, `objectness` (B, N), `class_probs` (B, N, C), the
  score of a (box, class) being objectness x class probability; the anchor-free family has no
  objectness (ones) and decodes its DFL bins (`engine.postprocess.decoded`, the evaluation's code);
- `nms`: decode and class-wise NMS in the graph: `detections` (K, 7) rows (image, x1, y1, x2, y2,
  score, label) over the whole batch by decreasing score, candidates chosen as the evaluation
  does (score threshold, pre-NMS top-k, multi-label); no per-image `max_det` cap.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torchvision.ops import batched_nms

from asffbench.engine.postprocess import decoded, nms_candidates
from asffbench.models.outputs import AnchorFreeLevel, DetectorOutput, LevelOutput

GRAPHS = ("raw", "decode", "nms")


def raw_output_names(levels: int, anchor_free: bool = False) -> list[str]:
    per_level = ("pred_{}",) if anchor_free else ("pred_{}", "anchors_{}")
    return [name.format(i) for i in range(levels) for name in per_level]


def output_names(graph: str, levels: int, anchor_free: bool = False) -> list[str]:
    return {"raw": raw_output_names(levels, anchor_free), "decode": ["boxes", "objectness", "class_probs"],
            "nms": ["detections"]}[graph]


def level_tensors(level: LevelOutput | AnchorFreeLevel) -> tuple[Tensor, ...]:
    """A level's raw tensors in the `raw` graph's order: (pred, anchors), or (pred,) anchor-free."""
    return (level.pred, level.anchors) if isinstance(level, LevelOutput) else (level.pred,)


def reg_max_of(levels: Sequence[LevelOutput | AnchorFreeLevel]) -> int:
    """The anchor-free levels' bins per side (the `raw` graph's metadata); 0 for anchor-based."""
    return int(levels[0].reg_max) if isinstance(levels[0], AnchorFreeLevel) else 0


class ExportGraph(nn.Module):
    """The detector with plain tensor outputs (ONNX export traces tensors, not dataclasses)."""

    def __init__(self, model: nn.Module, graph: str = "raw", score_thresh: float = 0.001,
                 nms_iou: float = 0.65, pre_nms_topk: int = 10000, multi_label: bool = True) -> None:
        super().__init__()
        if graph not in GRAPHS:
            raise ValueError(f"unknown graph form {graph!r}; choose from {', '.join(GRAPHS)}")
        self.model = model
        self.graph = graph
        self.score_thresh, self.nms_iou = score_thresh, nms_iou
        self.pre_nms_topk, self.multi_label = pre_nms_topk, multi_label

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        levels = self.model(images).levels
        if self.graph == "raw":
            return tuple(t for level in levels for t in level_tensors(level))
        if self.graph == "decode":
            return decoded(levels)
        return (self.detections(levels),)

    def detections(self, levels: Sequence[LevelOutput | AnchorFreeLevel]) -> Tensor:
        boxes, scores, labels, image_index, num_classes = nms_candidates(
            levels, self.score_thresh, self.pre_nms_topk, self.multi_label)
        kept = batched_nms(boxes, scores, image_index * num_classes + labels, self.nms_iou)
        # ONNX's NonMaxSuppression returns its picks by class, not by score: sort them again.
        kept = kept[scores[kept].argsort(descending=True)]
        return torch.cat([image_index[kept, None].float(), boxes[kept], scores[kept, None],
                          labels[kept, None].float()], dim=1)


def levels_from_raw(outputs: Sequence[Tensor], strides: Sequence[int], reg_max: int = 0) -> DetectorOutput:
    """A `raw` graph's outputs (pred, anchors per level; pred alone when `reg_max` > 0, the
    anchor-free family) as the detector's output dataclass."""
    if reg_max:
        return DetectorOutput(levels=[AnchorFreeLevel(pred=outputs[i], stride=stride, reg_max=reg_max)
                                      for i, stride in enumerate(strides)])
    return DetectorOutput(levels=[
        LevelOutput(pred=outputs[2 * i], anchors=outputs[2 * i + 1], shape_pred=None, stride=stride)
        for i, stride in enumerate(strides)
    ])
