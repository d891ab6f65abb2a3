"""Deformable convolution: torchvision's, or the same operator built from `grid_sample` + matmul.

On CPU, torchvision's `deform_conv2d` kernel (its backward above all) dominated guided
anchoring's training step, and it has no bf16 implementation. `SampledDeformConv2d` computes
the same function (torchvision.ops.deform_conv2d: zero padding outside the image, offsets laid
out [deformable group][kernel tap][(dy, dx)], optional mask, bias) from vectorised operators:
`grid_sample` gathers every kernel tap's bilinear sample for all output positions at once, one
matmul applies the weights, and autograd gives the backward. It subclasses torchvision's
`DeformConv2d`, so its parameters (`weight`, `bias`), their init and checkpoints are the same.

The twist: `grid_sample` takes positions normalised to [-1, 1]. With align_corners=False pixel
coordinate p maps to (2p + 1) / size - 1, and its zero padding blends border pixels with zeros
the way torchvision's bilinear kernel does (a sample at p in (-1, 0) gets weight p + 1 from pixel
0; at p <= -1 it is zero). The round trip through [-1, 1] is exact only for power-of-two sizes,
hence the zero padding in `bilinear_samples`.

Memory: autograd keeps the columns (C * 9, B * Ho * Wo) of each layer for the weight gradient,
where torchvision recomputes them: 0.85 GB fp32 for the full-size model's stride-8 level at
batch 16, 608 px (256 channels, 76 x 76), half that for each coarser level.
"""

from __future__ import annotations

from functools import partial
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.utils import _pair
from torchvision.ops import DeformConv2d

from asffbench.models.registry import Registry


def sampled_deform_conv2d(
    input: Tensor,
    offset: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    mask: Optional[Tensor] = None,
) -> Tensor:
    """`torchvision.ops.deform_conv2d` with the same arguments and result, from grid_sample."""
    batch, in_channels, _, _ = input.shape
    out_channels, group_channels, kernel_h, kernel_w = weight.shape
    taps = kernel_h * kernel_w
    groups = in_channels // group_channels
    out_h, out_w = offset.shape[-2:]
    positions = out_h * out_w
    samples = bilinear_samples(input, offset, (kernel_h, kernel_w), _pair(stride), _pair(padding), _pair(dilation))
    if mask is not None:  # (B, dg * taps, Ho, Wo): one factor per group, tap and position
        offset_groups = mask.shape[1] // taps
        samples = samples.view(batch, offset_groups, -1, taps, positions) * mask.reshape(
            batch, offset_groups, 1, taps, positions
        ).to(samples.dtype)
    # Columns (groups, C/groups * taps, B * Ho*Wo): the batch joins the columns, so one matmul
    # per group serves the whole batch and so does the weight gradient's.
    columns = samples.reshape(batch, groups, group_channels * taps, positions).permute(1, 2, 0, 3)
    columns = columns.reshape(groups, group_channels * taps, batch * positions)
    weights = weight.reshape(groups, out_channels // groups, group_channels * taps)
    out = torch.bmm(weights, columns).view(out_channels, batch, positions)
    if bias is not None:
        out = out + bias.to(out.dtype).view(out_channels, 1, 1)
    return out.transpose(0, 1).reshape(batch, out_channels, out_h, out_w)


def bilinear_samples(
    input: Tensor,
    offset: Tensor,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> Tensor:
    """Every tap's bilinear sample (B, C, taps, Ho*Wo), channel-major like the conv weights."""
    batch, in_channels, height, width = input.shape
    taps = kernel[0] * kernel[1]
    offset_groups = offset.shape[1] // (2 * taps)
    # Zero-pad to power-of-two sizes (zeros there are what torchvision samples outside anyway):
    # then normalising a position and grid_sample's un-normalising are exact, and an integer
    # position (zero offsets, as at init) keeps its floor, hence torchvision's one-sided gradient.
    padded = (1 << (int(height) - 1).bit_length(), 1 << (int(width) - 1).bit_length())  # int(): traced sizes
    features = F.pad(input, (0, padded[1] - width, 0, padded[0] - height))
    grid = sampling_grid(offset, kernel, padded, stride, padding, dilation)
    # Sample in the grid's precision (at least fp32): bf16/fp16 positions are off by up to a pixel.
    features = features.reshape(batch * offset_groups, in_channels // offset_groups, *padded).to(grid.dtype)
    samples = F.grid_sample(features, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # (B*dg, C/dg, taps*Ho, Wo) -> (B, C, taps, Ho*Wo)
    return samples.to(input.dtype).view(batch, in_channels, taps, -1)


def sampling_grid(
    offset: Tensor,
    kernel: tuple[int, int],
    size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
) -> Tensor:
    """grid_sample's grid (B*dg, taps*Ho, Wo, (x, y)): every tap's position, normalised."""
    batch, _, out_h, out_w = offset.shape
    taps = kernel[0] * kernel[1]
    dtype = torch.promote_types(offset.dtype, torch.float32)
    offset = offset.to(dtype).view(batch, -1, taps, 2, out_h, out_w)
    arange = partial(torch.arange, device=offset.device, dtype=dtype)
    # Tap k = (i, j), i the row: y = ho * stride - pad + i * dilation + dy (x likewise with j).
    tap_y = (arange(kernel[0]) * dilation[0]).repeat_interleave(kernel[1])
    tap_x = (arange(kernel[1]) * dilation[1]).repeat(kernel[0])
    y = offset[:, :, :, 0] + tap_y.view(taps, 1, 1) + (arange(out_h) * stride[0] - padding[0]).view(out_h, 1)
    x = offset[:, :, :, 1] + tap_x.view(taps, 1, 1) + (arange(out_w) * stride[1] - padding[1])
    height, width = size
    grid = torch.stack(((2 * x + 1) / width - 1, (2 * y + 1) / height - 1), dim=-1)
    return grid.view(-1, taps * out_h, out_w, 2)


class SampledDeformConv2d(DeformConv2d):
    """torchvision's `DeformConv2d` (same parameters, init and state dict), computed by
    `sampled_deform_conv2d`: multi-threaded on CPU and usable under bf16/fp16 autocast."""

    def forward(self, input: Tensor, offset: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        return sampled_deform_conv2d(
            input, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask
        )


DEFORM_CONVS = Registry("deformable convolution")
DEFORM_CONVS.register("torchvision")(DeformConv2d)
DEFORM_CONVS.register("sampled")(SampledDeformConv2d)

# What `auto` picks per device kind (benchmarks/bench_deform_conv.py): on CPU the sampled form is
# the faster; on CUDA torchvision's kernel stays until a measurement there says otherwise.
AUTO_DEFORM_CONV = {"cpu": "sampled", "cuda": "torchvision"}


def resolve_deform_conv(choice: str, device_kind: str) -> str:
    """The implementation `choice` (`auto`, `torchvision` or `sampled`) means on `device_kind`."""
    if choice != "auto":
        DEFORM_CONVS.get(choice)  # UnknownNameError naming the choices
        return choice
    return AUTO_DEFORM_CONV.get(device_kind, "torchvision")
