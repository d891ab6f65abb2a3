"""SGD with weight decay on conv/linear weights only, or (the reference) on every parameter."""

from __future__ import annotations

from torch import nn
from torch.optim import SGD

from asffbench.engine.epoch_schedule import BIAS_GROUP

# Layers whose `weight` is a normalisation scale, not a filter: not decayed by default.
NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


def param_groups(model: nn.Module, weight_decay: float, decay_norm_and_bias: bool = False,
                 separate_bias: bool = False) -> list[dict]:
    """Two groups: conv/linear weights, decayed; everything else (norm weights, biases), decayed
    only with `decay_norm_and_bias` (the reference decays every parameter). `separate_bias`
    splits the second into norm weights (`norm`) and biases (`bias`), whose warm-ups differ in
    the ultralytics recipe (`engine.epoch_schedule`)."""
    filters, others, bias_ids, seen = [], [], set(), set()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            is_filter = name == "weight" and param.ndim > 1 and not isinstance(module, NORM_TYPES)
            (filters if is_filter else others).append(param)
            if name == "bias":
                bias_ids.add(id(param))
    other_decay = weight_decay if decay_norm_and_bias else 0.0
    groups = [{"params": filters, "weight_decay": weight_decay, "name": "filters"}]
    if not separate_bias:
        return groups + [{"params": others, "weight_decay": other_decay, "name": "norm_and_bias"}]
    norms = [p for p in others if id(p) not in bias_ids]
    biases = [p for p in others if id(p) in bias_ids]
    return groups + [{"params": norms, "weight_decay": other_decay, "name": "norm"},
                     {"params": biases, "weight_decay": other_decay, "name": BIAS_GROUP}]


def build_optimizer(
    model: nn.Module, lr: float, momentum: float, weight_decay: float, decay_norm_and_bias: bool = False,
    separate_bias: bool = False, nesterov: bool = False,
) -> SGD:
    groups = param_groups(model, weight_decay, decay_norm_and_bias, separate_bias)
    return SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)


LR_SCALINGS = ("linear", "none")


def scaled_lr(base_lr: float, total_batch: int, reference_batch: int = 64, scaling: str = "linear") -> float:
    """The learning rate for a total batch (`recipe.lr_scaling`): `linear`: `train.lr` is stated
    for a total batch of 64 (the paper's 4 x 16) and scaled linearly; `none`: used as given (the
    reference's 1e-3 for its 10 x 5 images, whatever the batch)."""
    if scaling not in LR_SCALINGS:
        raise ValueError(f"lr scaling must be one of {LR_SCALINGS}, got {scaling!r}")
    return base_lr * total_batch / reference_batch if scaling == "linear" else base_lr
