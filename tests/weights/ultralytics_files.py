"""Files written by ultralytics itself (the pinned oracle, a dev extra): a trainer's checkpoint and
the release its `strip_optimizer` makes of it (the format of `yolov8n.pt`). Import after
`pytest.importorskip("ultralytics")`."""

from __future__ import annotations

import math
from copy import deepcopy
from pathlib import Path

import numpy as np
import torch
from ultralytics.utils import DEFAULT_CFG_DICT, IterableSimpleNamespace
from ultralytics.utils.torch_utils import strip_optimizer


def trainer_checkpoint(model: torch.nn.Module, path: Path, epoch: int = 7) -> Path:
    """What ultralytics' trainer saves each epoch: the model's EMA in half precision, "model" None,
    metrics as numpy scalars and a path among the arguments (records the reader keeps inert)."""
    ema = deepcopy(model).half()
    torch.save({"epoch": epoch, "best_fitness": np.float64(0.5), "model": None, "ema": ema, "updates": 70,
                "optimizer": None, "train_args": {**DEFAULT_CFG_DICT, "save_dir": Path("runs/detect/train")},
                "train_metrics": {"metrics/mAP50-95(B)": np.float64(0.25)}, "version": "8.4.190"}, path)
    return path


def write_release(model: torch.nn.Module, folder: Path, names: dict[int, str]) -> tuple[Path, Path]:
    """(training checkpoint, release) of `model`, as ultralytics writes them."""
    model.args = IterableSimpleNamespace(**DEFAULT_CFG_DICT)  # as the trainer attaches them
    model.names = names
    last = trainer_checkpoint(model, folder / "last.pt")
    strip_optimizer(last, folder / "yolov8n.pt")  # ultralytics' own step from a run to a release
    return last, folder / "yolov8n.pt"


def responsive(model: torch.nn.Module, seed: int = 0, gain: float = 1.5, head_gain: float = 3.0) -> torch.nn.Module:
    """Random weights whose detections follow the input (random ones of the usual scale give the
    same boxes on any image): conv weights N(0, gain^2 / fan-in), BatchNorm near the identity,
    the head's last convs (box bins, class logits) scaled up by `head_gain`; the DFL projection kept."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Conv2d) and "dfl" not in name:
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator)
                                    * gain / math.sqrt(module.weight[0].numel()))
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
            elif isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) * 0.5 + 0.75)
                module.weight.fill_(1.0)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
        detect = model.model[-1]
        for branch in (*detect.cv2, *detect.cv3):
            branch[-1].weight.mul_(head_gain)
    return model.eval()
