"""YOLOv3-MobileNetV2: the reference's structure (ReLU6, no feature adaption, levels 512/256/128),
the parts it has none of refused from its registry entry, and a tiny variant that trains."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from asffbench.build import build_model, build_yolov3
from asffbench.config.compose import compose_config
from asffbench.engine.loss import YOLOLoss
from asffbench.errors import UserError
from asffbench.models import MobileNetV2Backbone, backbone_info
from asffbench.runs.experiment import experiment_hash

MOBILE = {"backbone": "mobilenetv2", "width": 0.25, "num_classes": 3}


def test_structure_is_the_references(images):
    model = build_yolov3(**MOBILE, fusion="asff")
    assert isinstance(model.backbone, MobileNetV2Backbone)
    acts = {type(m) for m in model.modules() if isinstance(m, (nn.LeakyReLU, nn.ReLU6, nn.ReLU))}
    assert acts == {nn.ReLU6}  # backbone, neck and ASFF units alike
    assert all(level.adaption is None for level in model.head.levels)  # no feature adaption
    assert model.neck.out_channels == (128, 64, 32)  # 512 / 256 / 128 at width 1/4
    levels = model(images).levels
    assert [tuple(level.pred.shape[1:4]) for level in levels] == [(4, 2, 2), (4, 4, 4), (4, 8, 8)]


@pytest.mark.parametrize("overrides, part", [
    (["fusion=asff_star"], "ASFF*"),
    (["fusion.rfb=true"], "RFB"),
    (["fusion.dropblock=true"], "DropBlock"),
])
def test_parts_the_reference_lacks_are_refused_in_one_line(overrides, part):
    cfg = compose_config(["model=mobilenetv2", "device=cpu", *overrides])
    with pytest.raises(UserError, match=f"model.backbone=mobilenetv2: the reference has no .*{re.escape(part)}") as err:
        build_model(cfg)
    assert "\n" not in str(err.value)
    assert not backbone_info("mobilenetv2").enhancements and backbone_info("darknet53").enhancements


def test_reference_init_uses_slope_zero():
    torch.manual_seed(0)
    model = build_yolov3(**MOBILE, fusion="none", init="reference")
    conv = model.neck.path32[0].conv1.conv  # 1x1, 1280 -> 128: 163,840 draws
    expected = math.sqrt(2.0 / conv.weight[0].numel())  # kaiming gain at a = 0
    assert conv.weight.std().item() == pytest.approx(expected, rel=0.02)
    assert all(m.bias is None or not m.bias.any() for m in model.modules() if isinstance(m, nn.Conv2d))


def test_tiny_width_variant_trains_a_step(images):
    torch.manual_seed(0)
    model = build_yolov3(**MOBILE, fusion="asff").train()
    loss_fn = YOLOLoss(3, [[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [42, 119],
                           [116, 90], [156, 198], [373, 326]])
    targets = torch.tensor([[0, 1, 8.0, 8.0, 40.0, 30.0, 1.0], [1, 2, 20.0, 10.0, 60.0, 62.0, 1.0]])
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    before = model.neck.path8[0].conv.weight.detach().clone()
    total, parts = loss_fn(model(images).levels, targets)
    total.backward()
    optimizer.step()
    assert math.isfinite(parts["total"]) and parts["total"] > 0
    assert not torch.equal(model.neck.path8[0].conv.weight, before)


def test_depth_is_hashed_only_where_the_backbone_has_one():
    def hash_of(*overrides):
        return experiment_hash(compose_config(["device=cpu", *overrides]), device_kind="cpu")

    assert hash_of("model=mobilenetv2", "model.depth=0.5") == hash_of("model=mobilenetv2")
    assert hash_of("model=darknet53", "model.depth=0.5") != hash_of("model=darknet53")
    assert hash_of("model=mobilenetv2") != hash_of("model=darknet53", "model.name=mobilenetv2")
