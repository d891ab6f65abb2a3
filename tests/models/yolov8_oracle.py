"""Ultralytics' YOLOv8 (the pinned 8.4.190, a dev extra) as the oracle of the family's tests."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

os.environ.setdefault("YOLO_OFFLINE", "1")  # the oracle never reaches the network
os.environ.setdefault("YOLO_VERBOSE", "False")
tasks = pytest.importorskip("ultralytics.nn.tasks")


def oracle_model(scale: str, num_classes: int = 80) -> nn.Module:
    """Ultralytics' DetectionModel built from its yolov8<scale>.yaml."""
    torch.manual_seed(0)
    return tasks.DetectionModel(f"yolov8{scale}.yaml", nc=num_classes, verbose=False)


def randomized(model: nn.Module, seed: int = 0) -> nn.Module:
    """Every float parameter and BatchNorm statistic drawn at random (variances positive), the DFL
    projection kept: weights no initialisation would give, so a misplaced tensor shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point() or name.endswith("dfl.conv.weight"):
                continue
            values = torch.randn(tensor.shape, generator=generator) * 0.1
            if name.endswith("running_var") or name.endswith("bn.weight"):
                values = values.abs() + 0.5
            tensor.copy_(values)
    return model
