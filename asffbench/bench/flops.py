"""FLOPs with fvcore, reported in the unit fvcore really counts.

fvcore counts one fused multiply-add as one "flop", so its totals are MACs: we report GMACs and
GFLOPs = 2 x GMACs, both labelled. Element-wise operators it does not count are listed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

with warnings.catch_warnings():
    # fvcore scripts its focal loss at import time; torch now warns that jit.script is deprecated.
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import get_shape

from asffbench.bench.params import PARTS
from asffbench.models.outputs import LevelOutput


class TensorOutputs(nn.Module):
    """Tracing wrapper: the detector returns dataclasses; jit tracing needs plain tensors."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(images)
        # Anchor-based levels carry their (possibly predicted) anchors; anchor-free ones only pred.
        return tuple(t for level in out.levels
                     for t in ((level.pred, level.anchors) if isinstance(level, LevelOutput) else (level.pred,)))


def deform_conv2d_macs(inputs: list[Any], outputs: list[Any]) -> int:
    """torchvision::deform_conv2d: one MAC per output element per (in-channel/group x kernel tap).

    fvcore has no handle for it. The bilinear sampling at the offsets is not counted, like the
    other element-wise work fvcore skips.
    """
    weight_shape = get_shape(inputs[1])  # (out_c, in_c / groups, kh, kw)
    out_shape = get_shape(outputs[0])  # (B, out_c, H, W)
    out_elements = 1
    for dim in out_shape:
        out_elements *= dim
    return out_elements * weight_shape[1] * weight_shape[2] * weight_shape[3]


@dataclass
class FlopCount:
    gmacs: float
    gmacs_by_part: dict[str, float]
    uncounted_ops: list[str]

    @property
    def gflops(self) -> float:
        return 2.0 * self.gmacs


def count_flops(model: nn.Module, img_size: int, batch_size: int = 1) -> FlopCount:
    """Trace the model at (batch, 3, img_size, img_size) and count MACs with fvcore."""
    device = next(model.parameters()).device
    images = torch.zeros(batch_size, 3, img_size, img_size, device=device)
    was_training = model.training
    model.eval()
    try:
        analysis = FlopCountAnalysis(TensorOutputs(model), (images,))
        analysis.set_op_handle("torchvision::deform_conv2d", deform_conv2d_macs)
        # The sampled deformable conv (model.deform_conv=sampled) counts its matmul, the same
        # MACs; its bilinear sampling is skipped like torchvision's, so both count alike.
        # (fvcore's None handle only silences the op's warning; a zero handle skips it.)
        analysis.set_op_handle("aten::grid_sampler", lambda inputs, outputs: 0)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        with torch.no_grad(), warnings.catch_warnings():
            # Tracing warns about scripted torchvision ops and data-dependent shapes: not ours.
            warnings.simplefilter("ignore")
            total = analysis.total()
            by_module = analysis.by_module()
            uncounted = sorted(analysis.unsupported_ops())
    finally:
        model.train(was_training)
    return FlopCount(
        gmacs=total / 1e9,
        gmacs_by_part={part: by_module.get(f"model.{part}", 0) / 1e9 for part in PARTS},
        uncounted_ops=uncounted,
    )
