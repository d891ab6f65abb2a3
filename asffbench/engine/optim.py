"""SGD with weight decay on conv/linear weights only, or (the reference) on every parameter."""

from __future__ import annotations

from torch import nn
from torch.optim import SGD

# Layers whose `weight` is a normalisation scale, not a filter: not decayed by default.
NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


def param_groups(model: nn.Module, weight_decay: float, decay_norm_and_bias: bool = False) -> list[dict]:
    """Two groups: conv/linear weights, decayed; everything else (norm weights, biases), decayed
    only with `decay_norm_and_bias` (the reference decays every parameter)."""
    filters, norm_and_bias, seen = [], [], set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            is_filter = name == "weight" and param.ndim > 1 and not isinstance(module, NORM_TYPES)
            (filters if is_filter else norm_and_bias).append(param)
    return [
        {"params": filters, "weight_decay": weight_decay, "name": "filters"},
        {"params": norm_and_bias, "weight_decay": weight_decay if decay_norm_and_bias else 0.0,
         "name": "norm_and_bias"},
    ]


def build_optimizer(
    model: nn.Module, lr: float, momentum: float, weight_decay: float, decay_norm_and_bias: bool = False
) -> SGD:
    return SGD(param_groups(model, weight_decay, decay_norm_and_bias), lr=lr, momentum=momentum, nesterov=False)


LR_SCALINGS = ("linear", "none")


def scaled_lr(base_lr: float, total_batch: int, reference_batch: int = 64, scaling: str = "linear") -> float:
    """The learning rate for a total batch (`recipe.lr_scaling`): `linear`: `train.lr` is stated
    for a total batch of 64 (the paper's 4 x 16) and scaled linearly; `none`: used as given (the
    reference's 1e-3 for its 10 x 5 images, whatever the batch)."""
    if scaling not in LR_SCALINGS:
        raise ValueError(f"lr scaling must be one of {LR_SCALINGS}, got {scaling!r}")
    return base_lr * total_batch / reference_batch if scaling == "linear" else base_lr
