"""Each neck as published, and its variants as keys (docs/necks.md): fusion.pan_block,
fusion.bifpn_conv, fusion.bifpn_input, fusion.asff_block. Each test builds tiny models and checks
that a key changes what it says (modules, activations, parameter counts worked out by hand);
what a family has no definition for is refused in one line; records made before the keys keep
the hash, and the network, they had."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from asffbench.build import build_model, build_yolov3
from asffbench.build_yolov8 import build_yolov8
from asffbench.config.compose import compose_config, read_run_config, to_plain
from asffbench.config.schema import LEGACY_VALUES
from asffbench.errors import UserError
from asffbench.models import TapsAsLevels, YOLOv3Neck
from asffbench.models.layers import C3, ConvBNAct, SeparableConvBN
from asffbench.runs.experiment import experiment_hash

TINY = {"width": 0.25, "depth": 0.125, "num_classes": 3, "guided_anchoring": False}


def tiny_v3(fusion: str, **keys) -> nn.Module:
    return build_yolov3(fusion=fusion, **TINY, **keys)


def params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def unit(c_in: int, c_out: int, k: int) -> int:
    """A conv unit's parameters: conv weights, BN weight and bias."""
    return c_in * c_out * k * k + 2 * c_out


def kernels(block: nn.Module) -> list[int]:
    return [m.conv.kernel_size[0] for m in block if isinstance(m, ConvBNAct)]


def test_pan_block_names_the_merge_block():
    # tiny widths: neck levels 128 / 64 / 64; the stride-16 step merges 2 x 64 back to 64
    steps = {block: tiny_v3("pan", pan_block=block).fusion.path.steps[0].fuse for block in ("yolov4", "csp", "light")}
    assert kernels(steps["yolov4"]) == [1, 3, 1, 3, 1]
    assert kernels(steps["light"]) == [1, 3, 1]
    assert isinstance(steps["csp"], C3) and len(steps["csp"].blocks) == 1  # 3 x depth 0.125, at least 1
    assert params(steps["yolov4"]) - params(steps["light"]) == unit(64, 128, 3) + unit(128, 64, 1)
    # C3(128 -> 64): two 1x1 to 32, one bottleneck (1x1, 3x3 at 32), a 1x1 from 64
    assert params(steps["csp"]) == 2 * unit(128, 32, 1) + unit(32, 32, 1) + unit(32, 32, 3) + unit(64, 64, 1)


def test_pan_block_leaves_the_sum_merge_alone_and_the_outputs_shaped():
    summed = [tiny_v3("pan", pan_merge="sum", pan_block=b).fusion for b in ("yolov4", "light")]
    assert params(summed[0]) == params(summed[1])  # PANet's sum: one 3x3 unit, whatever the block
    model = tiny_v3("pan").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 64))
    assert [tuple(level.pred.shape[2:4]) for level in out.levels] == [(2, 2), (4, 4), (8, 8)]


def test_bifpn_conv_separable_is_efficientdets_node():
    separable = tiny_v3("bifpn", bifpn_conv="separable", bifpn_input="fpn").fusion.layers[0].nodes["td16"].conv
    activation, conv = separable  # the activation on the fused sum, then the conv with its BN last
    assert isinstance(activation, nn.LeakyReLU) and isinstance(conv, SeparableConvBN)
    assert conv.depthwise.groups == conv.depthwise.in_channels == 64
    assert isinstance(list(conv.children())[-1], nn.BatchNorm2d)  # no activation after BN
    full = tiny_v3("bifpn", bifpn_conv="full", bifpn_input="fpn").fusion.layers[0].nodes["td16"].conv
    assert isinstance(full, ConvBNAct)
    assert params(full) == unit(64, 64, 3) and params(conv) == 64 * 9 + 64 * 64 + 2 * 64


def test_bifpn_input_backbone_takes_the_taps_through_separate_unactivated_projections():
    backbone = tiny_v3("bifpn", bifpn_input="backbone")
    assert isinstance(backbone.neck, TapsAsLevels) and backbone.neck.out_channels == (256, 128, 64)
    fusion = backbone.fusion  # common width: the neck's stride-16 width (64 here), as with fpn
    assert fusion.layers[0].nodes["td16"].combine is not None and len(fusion.skip_entry) == 2
    projections = [*fusion.entry, *fusion.skip_entry]
    assert not any(isinstance(m, (nn.LeakyReLU, nn.ReLU6, nn.SiLU)) for p in projections for m in p.modules())
    assert fusion.entry[0] is not fusion.skip_entry[0]  # in32 enters two nodes, each its own 1x1
    assert params(fusion.entry[0]) == 256 * 64 + 2 * 64 and isinstance(fusion.entry[2], nn.Identity)
    fpn = tiny_v3("bifpn", bifpn_input="fpn")
    assert isinstance(fpn.neck, YOLOv3Neck) and fpn.fusion.skip_entry is None
    assert isinstance(fpn.fusion.entry[0], ConvBNAct)  # one activated 1x1 on the 128-wide level
    with torch.no_grad():
        out = backbone.eval()(torch.randn(1, 3, 64, 64))
    assert [tuple(level.pred.shape[2:4]) for level in out.levels] == [(2, 2), (4, 4), (8, 8)]


@pytest.mark.parametrize("fusion", ["asff", "asff_pan"])
def test_asff_block_yolox_pai_puts_bn_and_the_activation_before_the_softmax(fusion):
    def level0(block):
        module = tiny_v3(fusion, asff_block=block, compress_c=2).fusion
        return (module.asff if fusion == "asff_pan" else module).levels[0]

    pai, original = level0("yolox_pai"), level0("original")
    assert isinstance(pai.weight_logits, ConvBNAct) and isinstance(pai.weight_logits.act, nn.LeakyReLU)
    assert isinstance(original.weight_logits, nn.Conv2d) and original.weight_logits.bias is not None
    assert params(pai) - params(original) == 2 * 3 - 3  # BN weight and bias for 3 logits, no conv bias


def test_asff_pan_defaults_are_yolox_pais():
    fusion = tiny_v3("asff_pan").fusion
    assert isinstance(fusion.path.steps[0].fuse, C3)
    assert fusion.asff.levels[0].weight_convs[0].conv.out_channels == 2
    assert isinstance(fusion.asff.levels[0].weight_logits, ConvBNAct)
    v8 = build_yolov8(scale="n", width=0.125, num_classes=3, fusion="asff_pan").fusion.asff.levels[0]
    assert isinstance(v8.weight_logits.act, nn.SiLU) and v8.weight_convs[0].conv.out_channels == 2


@pytest.mark.parametrize("overrides,words", [
    (["fusion=pan", "fusion.pan_block=light"], "fusion.pan_block=light is the conv-form PAN's"),
    (["fusion=asff_pan", "fusion.pan_block=yolov4"], "fusion.pan_block=yolov4 is the conv-form PAN's"),
    (["fusion=bifpn", "fusion.added_act=leaky"], "fusion.added_act=leaky is not defined for it"),
])
def test_the_yolov8_family_refuses_what_it_has_no_definition_for(overrides, words):
    with pytest.raises(UserError) as err:
        build_model(compose_config(["model=yolov8", "model.width=0.125", *overrides]))
    assert words in str(err.value) and "\n" not in str(err.value)
    assert "yolov8 family" in str(err.value)


def test_the_yolov8_family_builds_its_published_defaults():
    # asff_pan's preset names YOLOX-PAI's CSP PAN, which the family's own C2f PAN stands for
    build_model(compose_config(["model=yolov8", "model.width=0.125", "fusion=asff_pan"]))
    with pytest.raises(ValueError, match="pan_block=csp"):
        build_yolov8(scale="n", fusion="pan", pan_block="csp")


def without_keys(plain: dict) -> dict:
    """A record's config as an asffbench before the keys wrote it."""
    return {**plain, "fusion": {k: v for k, v in plain["fusion"].items() if f"fusion.{k}" not in LEGACY_VALUES}}


def with_fusion(plain: dict, **keys: str) -> dict:
    return {**plain, "fusion": {**plain["fusion"], **keys}}


def config(*overrides: str) -> dict:
    return to_plain(compose_config(list(overrides)))


LEGACY = {key.split(".")[1]: value for key, value in LEGACY_VALUES.items() if key != "fusion.added_act"}


@pytest.mark.parametrize("overrides", [
    ("fusion=pan",), ("fusion=bifpn",), ("fusion=asff_pan", "fusion.compress_c=16"), ("fusion=asff",),
    ("model=yolov8", "fusion=asff_pan", "fusion.compress_c=16"), ("model=yolov8", "fusion=bifpn"),
])
def test_a_record_made_before_the_keys_names_the_network_it_built(overrides):
    published = config(*overrides)
    old = experiment_hash(without_keys(published), "cpu")
    assert experiment_hash(with_fusion(published, **LEGACY), "cpu") == old
    # the published defaults are another network (asff's is the paper's, as before)
    assert (experiment_hash(published, "cpu") == old) == (overrides == ("fusion=asff",))


def test_the_keys_count_only_where_the_network_reads_them():
    v8_pan = config("model=yolov8", "fusion=pan")  # its PAN blocks are its own
    assert experiment_hash(v8_pan, "cpu") == experiment_hash(without_keys(v8_pan), "cpu")
    none = config("fusion=none")
    for key, value in (("pan_block", "csp"), ("bifpn_conv", "full"), ("asff_block", "yolox_pai")):
        assert experiment_hash(with_fusion(none, **{key: value}), "cpu") == experiment_hash(none, "cpu")
    summed = config("fusion=pan", "fusion.pan_merge=sum")  # PANet's sum has no merge block
    assert experiment_hash(summed, "cpu") == experiment_hash(without_keys(summed), "cpu")
    assert experiment_hash(with_fusion(summed, pan_merge="concat"), "cpu") != \
        experiment_hash(without_keys(with_fusion(summed, pan_merge="concat")), "cpu")


def test_a_run_config_without_the_keys_reads_as_the_legacy_values(tmp_path):
    published = config("fusion=asff_pan")
    path = tmp_path / "config.yaml"
    path.write_text(OmegaConf.to_yaml(OmegaConf.create(without_keys(published))))
    cfg = read_run_config(path)
    assert {key: str(getattr(cfg.fusion, key.split(".")[1]).value) for key in LEGACY_VALUES} == LEGACY_VALUES
    path.write_text(OmegaConf.to_yaml(OmegaConf.create(published)))
    assert read_run_config(path).fusion.asff_block.value == "yolox_pai"  # a key written is kept


@pytest.mark.parametrize(("fusion", "keys"), [("afpn", []), ("bifpn", ["fusion.bifpn_input=backbone"])])
def test_dropblock_is_refused_where_the_fusion_leaves_the_neck_out(fusion, keys):
    cfg = compose_config(["model=tiny", f"fusion={fusion}", *keys, "fusion.dropblock=true"])
    with pytest.raises(UserError, match=f"fusion.dropblock=true: fusion={fusion} takes the backbone's taps"):
        build_model(cfg)
    with pytest.raises(ValueError, match=f"fusion '{fusion}' takes the backbone's taps"):
        tiny_v3(fusion, dropblock=True, bifpn_input="backbone")


def test_dropblock_fills_the_neck_slots_of_a_bifpn_on_the_neck():
    model = tiny_v3("bifpn", dropblock=True, bifpn_input="fpn")
    assert isinstance(model.neck, YOLOv3Neck)
    assert all(not isinstance(block, nn.Identity) for block in model.neck.dropblocks)
