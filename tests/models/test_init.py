"""`recipe.init`: the reference's kaiming-normal initialisation, applied by the builder."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torchvision.ops import DeformConv2d

from asffbench.models import INITS, UnknownNameError, initialise


def convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def test_reference_init_statistics(tiny_model):
    model = tiny_model(fusion="asff_star", init="reference")
    weights = []
    for conv in convs(model):
        if conv.bias is not None:
            assert (conv.bias == 0).all()  # prediction, guide_wh, offset, RFB and ASFF weight convs
        fan_in = conv.weight[0].numel()
        weights.append(conv.weight.detach().flatten() * math.sqrt(fan_in))  # std: the gain alone
    pooled = torch.cat(weights)
    gain = math.sqrt(2.0 / (1 + 0.1**2))  # leaky ReLU, a = 0.1
    assert pooled.std().item() == pytest.approx(gain, rel=0.02) and abs(pooled.mean().item()) < 0.02
    big = max(convs(model), key=lambda c: c.weight.numel())
    assert big.weight.std().item() == pytest.approx(gain / math.sqrt(big.weight[0].numel()), rel=0.05)
    for norm in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        assert (norm.weight == 1).all() and (norm.bias == 0).all()


def test_every_biased_conv_is_reached(tiny_model):
    model = tiny_model(fusion="asff_star", init="reference")
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.bias is not None]
    assert any("offset" in n for n in names) and any("guide" in n or "shape" in n for n in names), names
    assert len(names) >= 3 * 4  # per level: prediction, shape, offset, RFB branches...


def test_the_deformable_conv_keeps_its_own_initialisation(tiny_model):
    torch_model = tiny_model(fusion="asff", init="torch")
    reference_model = tiny_model(fusion="asff", init="reference")
    pairs = [(a, b) for a, b in zip(torch_model.modules(), reference_model.modules()) if isinstance(a, DeformConv2d)]
    assert pairs
    for a, b in pairs:  # the same seed: same draws, untouched by the reference init
        torch.testing.assert_close(a.weight, b.weight)


def test_the_torch_init_is_the_default_and_changes_nothing(tiny_model):
    default, explicit = tiny_model(), tiny_model(init="torch")
    for a, b in zip(default.state_dict().values(), explicit.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert any((c.bias != 0).any() for c in convs(default) if c.bias is not None)


def test_mobilenet_slope_and_unknown_names():
    conv = nn.Conv2d(64, 64, 3)
    torch.manual_seed(0)
    initialise(nn.Sequential(conv), "reference", negative_slope=0.0)
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2.0 / (64 * 9)), rel=0.05)
    assert INITS.names() == ["torch", "reference"]
    with pytest.raises(UnknownNameError, match="torch, reference"):
        initialise(nn.Sequential(conv), "xavier")
