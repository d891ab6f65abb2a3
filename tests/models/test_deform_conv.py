"""The sampled deformable convolution computes torchvision's deform_conv2d, values and gradients."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import DeformConv2d, deform_conv2d

from asffbench.models.layers import DEFORM_CONVS, SampledDeformConv2d, resolve_deform_conv
from asffbench.models.layers.deform_conv import sampled_deform_conv2d
from asffbench.models.registry import UnknownNameError

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


def random_case(batch, channels, height, width, out_channels, offset_groups, bias, kernel=3, stride=1,
                padding=1, dilation=1, offset_scale=3.0, seed=0):
    """Inputs, offsets reaching well outside the image, conv-initialised weights, optional bias."""
    generator = torch.Generator().manual_seed(seed)
    out_h = (height + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    out_w = (width + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    x = torch.randn(batch, channels, height, width, generator=generator)
    offset = offset_scale * torch.randn(batch, 2 * offset_groups * kernel * kernel, out_h, out_w, generator=generator)
    weight = torch.randn(out_channels, channels, kernel, kernel, generator=generator) / (channels * kernel * kernel) ** 0.5
    b = torch.randn(out_channels, generator=generator) if bias else None
    conv = {"stride": stride, "padding": padding, "dilation": dilation}
    return x, offset, weight, b, conv


def values_and_grads(fn, x, offset, weight, bias, conv):
    leaves = [t.clone().requires_grad_() for t in (x, offset, weight) + ((bias,) if bias is not None else ())]
    out = fn(leaves[0], leaves[1], leaves[2], leaves[3] if bias is not None else None, **conv)
    # A non-linear loss, so every output element gets its own upstream gradient.
    (out * torch.cos(out)).sum().backward()
    return out.detach(), [leaf.grad for leaf in leaves]


@pytest.mark.parametrize(
    "shape",
    [
        # batch, channels, height, width, out channels, offset groups, bias
        (2, 8, 7, 9, 6, 1, True),
        (2, 16, 5, 6, 16, 4, False),
        (1, 32, 10, 10, 16, 4, True),
        (3, 4, 1, 3, 4, 1, False),
    ],
)
def test_values_and_gradients_equal_torchvision(shape):
    x, offset, weight, bias, conv = random_case(*shape)
    positions = offset.abs().max()
    assert positions > max(shape[2:4]), "offsets must reach outside the image"
    expected, expected_grads = values_and_grads(deform_conv2d, x, offset, weight, bias, conv)
    got, got_grads = values_and_grads(sampled_deform_conv2d, x, offset, weight, bias, conv)
    torch.testing.assert_close(got, expected, **TOLERANCE)
    for name, g, e in zip(("input", "offset", "weight", "bias"), got_grads, expected_grads):
        torch.testing.assert_close(g, e, **TOLERANCE, msg=lambda m, name=name: f"grad {name}: {m}")


def test_stride_dilation_and_conv_groups_equal_torchvision():
    x, offset, weight, bias, conv = random_case(2, 8, 9, 8, 6, 2, True, stride=2, padding=2, dilation=2)
    grouped_weight = weight[:, :4]  # two conv groups of 4 input channels
    expected, expected_grads = values_and_grads(deform_conv2d, x, offset, grouped_weight, bias, conv)
    got, got_grads = values_and_grads(sampled_deform_conv2d, x, offset, grouped_weight, bias, conv)
    torch.testing.assert_close(got, expected, **TOLERANCE)
    for g, e in zip(got_grads, expected_grads):
        torch.testing.assert_close(g, e, **TOLERANCE)


def test_integer_positions_keep_torchvision_one_sided_offset_gradient():
    # Zero offsets (guided anchoring's init) sample exactly at pixels, where the bilinear
    # gradient is one-sided; torchvision takes the side above, and so must the sampled form.
    x, offset, weight, bias, conv = random_case(2, 8, 5, 7, 8, 4, False)
    for integer_offset in (torch.zeros_like(offset), offset.round()):
        expected = values_and_grads(deform_conv2d, x, integer_offset, weight, bias, conv)
        got = values_and_grads(sampled_deform_conv2d, x, integer_offset, weight, bias, conv)
        torch.testing.assert_close(got[0], expected[0], **TOLERANCE)
        torch.testing.assert_close(got[1][1], expected[1][1], **TOLERANCE)


def test_module_is_a_drop_in_for_torchvision_deform_conv2d():
    torch.manual_seed(0)
    reference = DeformConv2d(8, 8, 3, padding=1, bias=True)
    sampled = SampledDeformConv2d(8, 8, 3, padding=1, bias=True)
    assert sampled.state_dict().keys() == reference.state_dict().keys() == {"weight", "bias"}
    sampled.load_state_dict(reference.state_dict())
    x, offset = torch.randn(2, 8, 6, 6), 2 * torch.randn(2, 2 * 2 * 9, 6, 6)
    mask = torch.rand(2, 2 * 9, 6, 6)
    torch.testing.assert_close(sampled(x, offset), reference(x, offset), **TOLERANCE)
    torch.testing.assert_close(sampled(x, offset, mask), reference(x, offset, mask), **TOLERANCE)


def test_bf16_autocast_on_cpu_runs_and_stays_close():
    # torchvision's CPU kernel has no bf16 implementation; the sampled form runs under autocast.
    torch.manual_seed(0)
    conv = SampledDeformConv2d(16, 16, 3, padding=1, bias=True)
    x, offset = torch.randn(2, 16, 8, 8), 2 * torch.randn(2, 4 * 2 * 9, 8, 8)
    expected = conv(x, offset)
    x_bf16 = x.bfloat16().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x_bf16, offset.bfloat16())
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert x_bf16.grad is not None and conv.weight.grad is not None
    assert (out.float() - expected).abs().max() < 0.05 * expected.abs().max()


def test_registry_and_auto_choice():
    assert DEFORM_CONVS.get("torchvision") is DeformConv2d
    assert DEFORM_CONVS.get("sampled") is SampledDeformConv2d
    assert resolve_deform_conv("auto", "cpu") == "sampled"
    assert resolve_deform_conv("auto", "cuda") == "torchvision"
    assert resolve_deform_conv("torchvision", "cpu") == "torchvision"
    with pytest.raises(UnknownNameError, match="choose from torchvision, sampled"):
        resolve_deform_conv("fast", "cpu")
