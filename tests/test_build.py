import pytest
import torch

from asffbench.build import build_model, build_yolov3, model_kwargs_from_config
from asffbench.config.compose import compose_config
from asffbench.errors import UserError
from asffbench.models import FUSIONS, YOLOv3
from asffbench.models.layers import RFB, ScheduledDropBlock2d
from asffbench.weights.load import build_with_weights
from asffbench.weights.resolve import TRAIN, resolve_weights


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only add contention on a shared CI machine
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("fusion", FUSIONS.names())
def test_config_presets_match_the_keyword_builder(fusion):
    cfg = compose_config(["model=tiny", f"fusion={fusion}"])
    kwargs = model_kwargs_from_config(cfg)
    assert kwargs["fusion"] == fusion and kwargs["width"] == 0.25 and kwargs["depth"] == 0.125
    assert kwargs["upsample"] == "nearest" and type(kwargs["upsample"]) is str
    model = build_model(cfg)
    assert isinstance(model, YOLOv3) and model.num_classes == 80
    # The keyword builder's per-fusion defaults (compress_c, RFB, DropBlock) are the presets'.
    assert count(model) == count(build_yolov3(fusion=fusion, width=0.25, depth=0.125))
    enhanced = fusion == "asff_star"
    assert any(isinstance(m, RFB) for m in model.modules()) == enhanced
    assert any(isinstance(m, ScheduledDropBlock2d) for m in model.modules()) == enhanced


def test_overrides_reach_the_modules():
    cfg = compose_config(
        [
            "model=tiny",
            "fusion=asff",
            "fusion.upsample=bilinear",
            "fusion.compress_c=8",
            "tricks.guided_anchoring=false",
            "model.num_classes=5",
        ]
    )
    model = build_model(cfg)
    assert model.head.num_slots == 3 and model.num_classes == 5
    level2 = model.fusion.levels[2]
    assert level2.resize.resizers[0].mode == "bilinear"
    assert level2.weight_convs[0].conv.out_channels == 8
    with torch.no_grad():
        output = model.eval()(torch.randn(1, 3, 64, 64))
    assert output.levels[0].pred.shape == (1, 3, 2, 2, 10)


def test_full_size_default_is_the_paper_model():
    cfg = compose_config(["fusion=asff"])
    kwargs = model_kwargs_from_config(cfg)
    assert kwargs["width"] == 1.0 and kwargs["depth"] == 1.0 and kwargs["num_classes"] == 80
    assert kwargs["guided_anchoring"] and kwargs["compress_c"] == 16


@pytest.mark.parametrize(
    "override, needle",
    [
        ("fusion.name=asf", "fusion.name=asf: unknown fusion; choose from afpn, asff, asff_pan, asff_star, bifpn, concat, none, pan, sum"),
        ("model.width=0", "model.width=0"),
        ("model.depth=-1", "model.depth=-1"),
        ("model.num_classes=0", "model.num_classes=0"),
        ("fusion.compress_c=0", "fusion.compress_c=0"),
        ("fusion.dropblock_keep_prob=1.5", "fusion.dropblock_keep_prob=1.5"),
        ("model.anchors=[[10,13]]", "model.anchors"),
    ],
)
def test_bad_values_raise_one_line_user_errors(override, needle):
    with pytest.raises(UserError) as info:  # at composition, or for a fusion name when building
        build_model(compose_config(["model=tiny", override]))
    message = str(info.value)
    assert needle in message and "\n" not in message


def test_pretrained_weights_are_loaded(tmp_path):
    source = build_yolov3(fusion="none", width=0.25, depth=0.125)
    with torch.no_grad():
        for index, param in enumerate(source.backbone.parameters()):
            param.fill_(index / 100)
    path = tmp_path / "backbone.pt"
    torch.save(source.backbone.state_dict(), path)
    cfg = compose_config(["model=tiny", "fusion=asff", f"model.pretrained={path}"])
    fresh = build_model(cfg)  # building reads no file: the backbone is as initialised
    assert not torch.equal(fresh.backbone.stem.conv.weight, source.backbone.stem.conv.weight)
    model = build_with_weights(cfg, resolve_weights(cfg, TRAIN))
    for loaded, expected in zip(model.backbone.state_dict().values(), source.backbone.state_dict().values()):
        assert torch.equal(loaded, expected)
    missing = compose_config(["model=tiny", f"model.pretrained={tmp_path / 'missing.weights'}"])
    with pytest.raises(UserError, match="model.pretrained=.*missing.weights: no such file"):
        build_with_weights(missing, resolve_weights(missing, TRAIN))
