"""SGD with weight decay on conv/linear weights only (none on BatchNorm and biases)."""

from __future__ import annotations

from torch import nn
from torch.optim import SGD

# Layers whose `weight` is a normalisation scale, not a filter: never decayed.
NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: decayed conv/linear weights, and everything else (norm weights, biases)."""
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            is_filter = name == "weight" and param.ndim > 1 and not isinstance(module, NORM_TYPES)
            (decay if is_filter else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay, "name": "decay"},
        {"params": no_decay, "weight_decay": 0.0, "name": "no_decay"},
    ]


def build_optimizer(model: nn.Module, lr: float, momentum: float, weight_decay: float) -> SGD:
    return SGD(param_groups(model, weight_decay), lr=lr, momentum=momentum, nesterov=False)


def scaled_lr(base_lr: float, total_batch: int, reference_batch: int = 64) -> float:
    """`train.lr` is stated for a total batch of 64 (the paper's 4 x 16); scale linearly."""
    return base_lr * total_batch / reference_batch
