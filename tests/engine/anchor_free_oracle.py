"""Random anchor-free head outputs and targets, and the same in ultralytics' formats (the oracle
of tests/engine/test_anchor_free_*.py; ultralytics is a dev dependency, imported by the tests)."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import Tensor, nn

from asffbench.models.outputs import AnchorFreeLevel

REG_MAX = 16
STRIDES = (32, 16, 8)  # asffbench's level order


def random_levels(batch: int, num_classes: int, img_size: int, seed: int, requires_grad: bool = False,
                  class_bias: float = -4.0) -> list[AnchorFreeLevel]:
    generator = torch.Generator().manual_seed(seed)
    levels = []
    for stride in STRIDES:
        cells = img_size // stride
        pred = torch.randn(batch, 4 * REG_MAX + num_classes, cells, cells, generator=generator) * 2.0
        pred[:, 4 * REG_MAX:] += class_bias
        levels.append(AnchorFreeLevel(pred.requires_grad_(requires_grad), stride, REG_MAX))
    return levels


def random_targets(batch: int, num_classes: int, img_size: int, seed: int) -> Tensor:
    """(M, 7) targets: image 0 scattered boxes (one tiny), image 1 none, image 2 (if any) a crowd of
    overlapping boxes around one spot, further images a few boxes each."""
    generator = torch.Generator().manual_seed(seed)
    rows = []

    def add(image: int, centre: Tensor, size: Tensor) -> None:
        boxes = torch.cat((centre - size / 2, centre + size / 2), dim=1).clamp(0, img_size)
        labels = torch.randint(0, num_classes, (len(boxes),), generator=generator).float()
        image_col = torch.full((len(boxes),), float(image))
        rows.append(torch.cat((image_col[:, None], labels[:, None], boxes, torch.ones(len(boxes), 1)), dim=1))

    count = 6
    add(0, torch.rand(count, 2, generator=generator) * img_size * 0.8 + img_size * 0.1,
        torch.rand(count, 2, generator=generator) * img_size * 0.4 + 20)
    add(0, torch.tensor([[img_size * 0.3, img_size * 0.6]]), torch.tensor([[6.0, 9.0]]))  # below the 16 px floor
    if batch > 2:
        crowd = 12
        add(2, img_size * 0.5 + torch.randn(crowd, 2, generator=generator) * 12,
            torch.rand(crowd, 2, generator=generator) * 80 + 30)
    for image in range(3, batch):
        add(image, torch.rand(3, 2, generator=generator) * img_size * 0.8 + img_size * 0.1,
            torch.rand(3, 2, generator=generator) * 100 + 10)
    return torch.cat(rows)


def ultralytics_preds(levels: list[AnchorFreeLevel]) -> dict:
    """The raw training output of ultralytics' Detect for the same maps (its level order 8, 16, 32)."""
    ordered = sorted(levels, key=lambda level: level.stride)
    batch = ordered[0].pred.shape[0]
    flat = torch.cat([level.pred.reshape(batch, level.pred.shape[1], -1) for level in ordered], dim=2)
    return {"boxes": flat[:, : 4 * REG_MAX], "scores": flat[:, 4 * REG_MAX:],
            "feats": [level.pred for level in ordered]}


def ultralytics_batch(targets: Tensor, img_size: int) -> dict:
    """asffbench's (M, 7) pixel xyxy targets as ultralytics' batch dict (normalised xywh)."""
    boxes = targets[:, 2:6] / img_size
    xywh = torch.cat(((boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]), dim=1)
    return {"batch_idx": targets[:, 0], "cls": targets[:, 1:2], "bboxes": xywh}


class DetectStandIn:
    """What v8DetectionLoss reads of a Detect head."""

    def __init__(self, num_classes: int) -> None:
        self.stride = torch.tensor([8.0, 16.0, 32.0])
        self.nc = num_classes
        self.reg_max = REG_MAX


class ModelStandIn(nn.Module):
    """What v8DetectionLoss reads of a model: a parameter (its device), `args` (the gains) and
    `model[-1]` (the head)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.model = [DetectStandIn(num_classes)]
        self.args = SimpleNamespace(box=7.5, cls=0.5, dfl=1.5)
