"""The reference's MobileNetV2 models: their exact checkpoint layout, a bit-equal round trip
through it, and the ImageNet backbone files `model.pretrained` takes (torchvision's, the
reference's renamed copy)."""

from __future__ import annotations

import pytest
import torch

from asffbench.anchors import ANCHOR_SETS
from asffbench.build import build_model, build_yolov3
from asffbench.errors import UserError
from asffbench.weights.load import build_with_weights
from asffbench.weights.reference_layout import backbone_reference_names, reference_names
from asffbench.weights.resolve import BENCH, TRAIN, resolve_weights

from .conftest import MOBILE_SECTIONS, as_reference, parse_reference_layout, randomized, tiny_cfg

LAYOUT = parse_reference_layout()
MOBILE = ["model=mobilenetv2", "model.width=0.25"]


@pytest.mark.parametrize("fusion", sorted(MOBILE_SECTIONS))
def test_mapping_gives_exactly_the_reference_mobilenetv2_names_shapes_and_counts(fusion):
    with torch.device("meta"):  # full width, 80 classes: the released models
        model = build_yolov3(backbone="mobilenetv2", fusion=fusion)
    names = reference_names(model)
    ours = sorted((names[key], tuple(t.shape), str(t.dtype).removeprefix("torch."))
                  for key, t in model.state_dict().items())
    section = LAYOUT[MOBILE_SECTIONS[fusion]]
    assert ours == sorted(section["tensors"])
    assert len(set(names.values())) == len(names)
    assert sum(p.numel() for p in model.parameters()) == section["params"]  # 24,800,532 / 27,141,613


def outputs(model, images):
    with torch.no_grad():
        return [t for level in model(images).levels for t in (level.pred, level.anchors, level.shape_pred)]


@pytest.mark.parametrize("fusion", sorted(MOBILE_SECTIONS))
def test_round_trip_through_the_reference_layout_is_bit_equal(fusion, tiny_model, tmp_path):
    source = tiny_model(*MOBILE, f"fusion={fusion}", seed=3)
    path = as_reference(source, tmp_path / "ref.pth")
    assert all(key.startswith(("module_list.", "level_")) for key in torch.load(path))
    cfg = tiny_cfg(*MOBILE, f"fusion={fusion}", f"model.weights={path}")
    loaded = build_with_weights(cfg, resolve_weights(cfg, BENCH)).eval()
    images = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    for got, expected in zip(outputs(loaded, images), outputs(source, images)):
        assert torch.equal(got, expected)


def imagenet_file(backbone, path, reference: bool):
    """torchvision's ImageNet MobileNetV2 file (features + classifier), or the reference's copy."""
    state = dict(backbone.state_dict())  # the backbone's keys are torchvision's `features.N...`
    if reference:
        names = backbone_reference_names(backbone)
        state = {names[key]: value for key, value in state.items()}
    else:
        state["classifier.1.weight"] = torch.randn(1000, 1280)
        state["classifier.1.bias"] = torch.randn(1000)
    torch.save(state, path)
    return path


@pytest.mark.parametrize("reference", [False, True], ids=["torchvision", "reference"])
def test_pretrained_imagenet_file_loads_into_the_backbone(reference, tiny_model, tmp_path):
    source = tiny_model(*MOBILE, seed=5).backbone
    path = imagenet_file(source, tmp_path / "mobilenet_v2.pth", reference)
    cfg = tiny_cfg(*MOBILE, f"model.pretrained={path}")
    model = build_with_weights(cfg, resolve_weights(cfg, TRAIN))
    for key, value in source.state_dict().items():
        assert torch.equal(model.backbone.state_dict()[key], value), key


def test_a_darknet_file_does_not_fit_the_mobilenetv2_backbone(tmp_path):
    path = tmp_path / "darknet53.conv.74"
    path.write_bytes(b"\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00" + b"\x00" * 8 + b"\x00" * 400)
    cfg = tiny_cfg(*MOBILE, f"model.pretrained={path}")
    with pytest.raises(UserError, match="model.pretrained|darknet"):
        build_with_weights(cfg, resolve_weights(cfg, TRAIN))


def test_the_reference_recipe_picks_the_released_mobilenetv2_anchors():
    assert tiny_cfg(*MOBILE, "recipe=reference").model.anchors == "asff_mobile"
    assert tiny_cfg("recipe=reference").model.anchors == "asff_release"  # Darknet-53's as before
    model = build_model(tiny_cfg(*MOBILE, "recipe=reference"))
    assert model.head.levels[0].base_sizes[:3].tolist() == [[116.0, 90.0], [156.0, 198.0], [373.0, 326.0]]
    assert ANCHOR_SETS["asff_mobile"][5] == [42, 119]
