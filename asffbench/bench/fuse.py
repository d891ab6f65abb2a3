"""Fold BatchNorm into the preceding convolution for inference timing (`bench.fuse=true`)."""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fuse_conv_bn(model: nn.Module) -> tuple[nn.Module, int]:
    """A copy of `model` (eval mode) with every Conv2d directly followed by a BatchNorm2d fused.

    "Directly followed" means consecutive children of one container (nn.Sequential or a module
    whose children are registered conv then bn), which is how the conv units are built. Returns
    the fused copy and the number of pairs fused.
    """
    fused = copy.deepcopy(model).eval()
    count = 0
    for parent in fused.modules():
        names = list(parent._modules.keys())
        for first, second in zip(names, names[1:]):
            conv, bn = parent._modules[first], parent._modules[second]
            # SyncBatchNorm too: a model trained with tricks.sync_bn keeps it after training.
            if isinstance(conv, nn.Conv2d) and isinstance(bn, (nn.BatchNorm2d, nn.SyncBatchNorm)):
                parent._modules[first] = fuse_conv_bn_eval(conv, bn)
                parent._modules[second] = nn.Identity()
                count += 1
    return fused, count
