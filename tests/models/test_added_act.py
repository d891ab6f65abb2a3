"""fusion.added_act: the parts asffbench added (PAN path, BiFPN, ASFF after a PAN, AFPN) take the
backbone's activation on the YOLOv3 family, or LeakyReLU whatever the backbone (before the key)."""

from __future__ import annotations

import pytest
from torch import nn

from asffbench.build import build_yolov3

ADDED = ("pan", "bifpn", "asff_pan", "afpn")


def activations(module: nn.Module) -> set[type]:
    return {type(m) for m in module.modules() if isinstance(m, (nn.LeakyReLU, nn.ReLU6, nn.SiLU))}


@pytest.mark.parametrize("fusion", ADDED)
def test_added_parts_take_the_backbone_activation(fusion):
    model = build_yolov3(backbone="mobilenetv2", fusion=fusion, width=0.25, num_classes=3, guided_anchoring=False)
    assert activations(model.fusion) == {nn.ReLU6}
    leaky = build_yolov3(backbone="mobilenetv2", fusion=fusion, width=0.25, num_classes=3, guided_anchoring=False,
                         added_act="leaky")
    assert nn.LeakyReLU in activations(leaky.fusion)
    # an activation has no parameters: the two networks have the same shapes
    assert [p.shape for p in model.fusion.parameters()] == [p.shape for p in leaky.fusion.parameters()]
    darknet = build_yolov3(backbone="darknet53", fusion=fusion, width=0.25, num_classes=3, guided_anchoring=False)
    assert activations(darknet.fusion) == {nn.LeakyReLU}


@pytest.mark.slow
@pytest.mark.parametrize("backbone,fusion,params", [
    ("darknet53", "pan", 14_887_424), ("darknet53", "bifpn", 6_034_953), ("darknet53", "asff_pan", 18_742_489),
    ("mobilenetv2", "pan", 14_887_936), ("mobilenetv2", "bifpn", 6_068_233), ("mobilenetv2", "asff_pan", 17_229_017),
])
def test_full_size_fusion_params(backbone, fusion, params):
    # The necks as they were when the key came (docs/necks.md: LEGACY_VALUES); today's defaults
    # are pinned in tests/models/test_necks.py.
    legacy = {"pan_block": "light", "bifpn_conv": "full", "bifpn_input": "fpn", "asff_block": "original",
              "compress_c": 16}
    model = build_yolov3(backbone=backbone, fusion=fusion, guided_anchoring=False, **legacy)
    assert sum(p.numel() for p in model.fusion.parameters()) == params


def test_records_made_before_the_key_keep_their_network():
    from asffbench.config.compose import compose_config, to_plain
    from asffbench.runs.experiment import experiment_hash

    def hashes(*overrides):
        plain = to_plain(compose_config(list(overrides)))
        old = {**plain, "fusion": {k: v for k, v in plain["fusion"].items() if k != "added_act"}}
        return experiment_hash(plain, "cpu"), experiment_hash(old, "cpu")

    new, old = hashes("model=mobilenetv2", "fusion=pan")
    assert new != old  # ReLU6 now, LeakyReLU in the old record: two networks, two hashes
    new, old = hashes("model=mobilenetv2", "fusion=pan", "fusion.added_act=leaky")
    assert new == old  # the old record names the leaky variant
    for overrides in (("fusion=pan",), ("model=mobilenetv2", "fusion=asff"), ("model=yolov8", "fusion=pan")):
        new, old = hashes(*overrides)
        assert new == old, overrides  # nothing changed there
