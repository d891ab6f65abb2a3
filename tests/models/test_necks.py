"""The neck zoo: BiFPN's edge weighting against hand computations, PAN's bottom-up path, BiFPN's
nodes, ASFF on PAN, and the full-size parameter and MAC counts of every neck default and variant
(YOLOv3 and yolov8s) that docs/benchmarks.md and docs/necks.md quote."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from asffbench.build import build_yolov3
from asffbench.build_yolov8 import build_yolov8
from asffbench.models import TapsAsLevels
from asffbench.models.fusion import ASFFOnPAN, BiFPN, PANFusion
from asffbench.models.fusion.weighted_sum import FAST_EPSILON, WeightedSum

LEVEL_WIDTHS = (32, 16, 16)  # a small stand-in for the neck's 512 / 256 / 256
HEAD_WIDTHS = (64, 32, 16)


def level_features(batch=2, size=2, widths=LEVEL_WIDTHS, seed=0, grad=False):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, size * 2**i, size * 2**i, generator=generator, requires_grad=grad)
            for i, c in enumerate(widths)]


def constant_inputs(*values):
    return [torch.full((1, 2, 3, 3), float(v)) for v in values]


def test_fast_normalised_fusion_matches_a_hand_computation():
    fusion = WeightedSum(3, "fast")
    with torch.no_grad():
        fusion.edge_weights.copy_(torch.tensor([2.0, -1.0, 1.0]))
    # ReLU -> (2, 0, 1); divided by 2 + 0 + 1 + 1e-4.
    expected = [2 / (3 + FAST_EPSILON), 0.0, 1 / (3 + FAST_EPSILON)]
    weights = fusion.normalised_weights().detach()
    torch.testing.assert_close(weights, torch.tensor(expected))
    assert (weights >= 0).all() and abs(float(weights.sum()) - 1) < 1e-4
    out = fusion(constant_inputs(1, 2, 3))
    torch.testing.assert_close(out, torch.full((1, 2, 3, 3), (2 * 1 + 1 * 3) / (3 + FAST_EPSILON)))


def test_softmax_fusion_matches_a_hand_computation():
    fusion = WeightedSum(3, "softmax")
    with torch.no_grad():
        fusion.edge_weights.copy_(torch.tensor([0.0, math.log(2), math.log(3)]))
    weights = fusion.normalised_weights().detach()  # e^w = 1, 2, 3 over 6
    torch.testing.assert_close(weights, torch.tensor([1 / 6, 2 / 6, 3 / 6]))
    assert (weights >= 0).all() and float(weights.sum()) == pytest.approx(1.0, abs=1e-6)
    torch.testing.assert_close(fusion(constant_inputs(1, 2, 3)), torch.full((1, 2, 3, 3), (1 + 4 + 9) / 6))


def test_edge_weights_start_even_and_learn():
    fast = WeightedSum(2, "fast")
    torch.testing.assert_close(fast.normalised_weights(), torch.full((2,), 1 / (2 + FAST_EPSILON)))
    inputs = [torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)]
    fast(inputs).sum().backward()
    assert fast.edge_weights.grad is not None and fast.edge_weights.grad.abs().sum() > 0


def test_sum_weighting_is_the_plain_sum_with_nothing_learned():
    fusion = WeightedSum(3, "sum")
    assert fusion.normalised_weights() is None and not list(fusion.parameters())
    torch.testing.assert_close(fusion(constant_inputs(1, 2, 3)), torch.full((1, 2, 3, 3), 6.0))
    with pytest.raises(ValueError, match="edge weighting"):
        WeightedSum(2, "mean")


@pytest.mark.parametrize("merge", ["concat", "sum"])
def test_pan_adds_a_bottom_up_path(merge):
    fusion = PANFusion(LEVEL_WIDTHS, HEAD_WIDTHS, merge)
    to16, to32 = fusion.path.steps
    assert to16.down.conv.stride == (2, 2) and (to16.down.conv.in_channels, to16.down.conv.out_channels) == (16, 16)
    assert (to32.down.conv.in_channels, to32.down.conv.out_channels) == (16, 32)
    if merge == "concat":
        assert [unit.conv.kernel_size for unit in to32.fuse] == [(1, 1), (3, 3), (1, 1)]
        assert to32.fuse[0].conv.in_channels == 2 * 32
    else:
        assert to32.fuse.conv.in_channels == 32 and to32.fuse.conv.kernel_size == (3, 3)
    features = level_features(grad=True)
    outputs, weights = fusion.eval()(features, return_weights=True)
    assert weights is None and [o.shape[1] for o in outputs] == list(HEAD_WIDTHS)
    torch.testing.assert_close(outputs[2], features[2])  # stride 8 starts the path; 16 -> 16 needs no widening
    # Stride 32 now sees stride 8 (the bottom-up path); in the plain FPN fusion it would not.
    (grad,) = torch.autograd.grad(outputs[0].sum(), features[2])
    assert grad.abs().sum() > 0


def test_bifpn_nodes_share_one_width_and_report_their_weights():
    fusion = BiFPN(LEVEL_WIDTHS, HEAD_WIDTHS, layers=2, weighting="fast")
    assert isinstance(fusion.entry[1], torch.nn.Identity) and fusion.entry[0].conv.out_channels == 16  # stride-16 width
    assert len(fusion.layers) == 2
    layer = fusion.layers[0]
    assert {name: node.sources for name, node in layer.nodes.items()} == {
        "td16": ("in16", "in32"), "out8": ("in8", "td16"), "out16": ("in16", "td16", "out8"), "out32": ("in32", "out16"),
    }
    features = level_features(grad=True)
    outputs, weights = fusion.eval()(features, return_weights=True)
    assert weights is None and [tuple(o.shape[1:]) for o in outputs] == [(64, 2, 2), (32, 4, 4), (16, 8, 8)]
    (grad,) = torch.autograd.grad(outputs[0].sum(), features[2])
    assert grad.abs().sum() > 0  # stride 32's output node sees stride 8 through the bottom-up path
    report = fusion.edge_weights()
    assert report["weighting"] == "fast" and len(report["layers"]) == 2
    for nodes in report["layers"]:
        for name, edges in nodes.items():
            assert list(edges) == list(layer.nodes[name].sources)
            assert all(w >= 0 for w in edges.values()) and sum(edges.values()) == pytest.approx(1, abs=1e-4)
    assert BiFPN(LEVEL_WIDTHS, HEAD_WIDTHS, weighting="sum").edge_weights() is None
    assert BiFPN(LEVEL_WIDTHS, HEAD_WIDTHS, channels=24).entry[2].conv.out_channels == 24
    with pytest.raises(ValueError, match="at least 1"):
        BiFPN(LEVEL_WIDTHS, HEAD_WIDTHS, layers=0)


def test_asff_on_pan_weights_are_asffs():
    fusion = ASFFOnPAN(LEVEL_WIDTHS, HEAD_WIDTHS, compress_c=8).eval()
    with torch.no_grad():
        outputs, weights = fusion(level_features(), return_weights=True)
    assert [o.shape[1] for o in outputs] == list(HEAD_WIDTHS)
    assert [tuple(w.shape[1:]) for w in weights] == [(3, 2, 2), (3, 4, 4), (3, 8, 8)]
    for w in weights:
        torch.testing.assert_close(w.sum(dim=1), torch.ones_like(w[:, 0]))
    assert fusion.asff.levels[0].weight_convs[0].conv.out_channels == 8


# Full size (width 1, 80 classes, guided anchoring), the fusion part only: the other parts are
# those of tests/models/test_param_counts.py. Derivation (conv weights + BN weight and bias):
#   PAN bottom-up, light (three units): stride 16: down 3x3 s2 256->256 (590,336), 1x1 512->256
#     (131,584), 3x3 256->512 (1,180,672), 1x1 512->256 (131,584); stride 32: down 3x3 s2 256->512
#     (1,180,672), 1x1 1024->512 (525,312), 3x3 512->1024 (4,720,640), 1x1 1024->512 (525,312)
#                                                                                  -> 8,986,112
#   yolov4 (five units) adds a 3x3 and a 1x1 per step: + 1,312,256 + 5,245,952      -> 15,544,320
#   csp (C3, 3 bottlenecks, hidden c/2): stride 16: 590,336 + 2 x 1x1 512->128 (65,792) +
#     3 x (1x1 128 (16,640) + 3x3 128 (147,712)) + 1x1 256->256 (66,048) = 1,281,024; stride 32:
#     1,180,672 + 2 x 262,656 + 3 x (66,048 + 590,336) + 263,168 = 3,938,304       -> 5,219,328
#   PAN bottom-up, sum: 590,336 + 3x3 256->256 (590,336) + 1,180,672 + 3x3 512->512 (2,360,320)
#                                                                                  -> 4,721,664
#   then none's widening units (5,901,312): pan 21,445,632 (light 14,887,424, csp 11,120,640),
#     pan sum 10,622,976.
#   BiFPN (width 256), full nodes on the FPN: entry 1x1 512->256 (131,584); 4 nodes 3x3 256->256
#     (4 x 590,336) and 2+2+3+2 edge weights; widening 3x3 256->1024 (2,361,344), 256->512
#     (1,180,672)                                                                  -> 6,034,953
#   separable nodes: 4 x (depthwise 2,304 + pointwise 65,536 + BN 512) = 273,408 for 2,361,344
#   on the backbone: projections 1024->256 (262,656) and 512->256 (131,584), each twice, no
#     neck; with separable nodes 788,480 + 273,408 + 9 + 3,542,016                -> 4,603,913
#   ASFF on PAN, as before the keys (light, original, compress_c 16): 8,986,112 + asff's 9,756,377
#                                                                                  -> 18,742,489
#   YOLOX-PAI's ASFF adds a BN (2 x 3, less the 3 biases) per level: asff 9,756,386.
FULL_SIZE = {
    # name: (build_yolov3 keywords, fusion params, fusion MACs at 608 px, batch 1 (fvcore))
    "pan": ({"fusion": "pan"}, 21_445_632, 12_644_726_784),
    "pan_csp": ({"fusion": "pan", "pan_block": "csp"}, 11_120_640, 6_680_567_808),
    "pan_light": ({"fusion": "pan", "pan_block": "light"}, 14_887_424, 8_856_040_448),
    "pan_sum": ({"fusion": "pan", "pan_merge": "sum"}, 10_622_976, 6_392_229_888),
    "bifpn": ({"fusion": "bifpn"}, 4_603_913, 3_745_712_896),
    "bifpn_full": ({"fusion": "bifpn", "bifpn_conv": "full"}, 6_691_849, 8_456_618_496),
    "bifpn_fpn": ({"fusion": "bifpn", "bifpn_input": "fpn"}, 3_947_017, 3_223_562_496),
    "bifpn_full_fpn": ({"fusion": "bifpn", "bifpn_conv": "full", "bifpn_input": "fpn"}, 6_034_953, 7_934_468_096),
    "asff_pan": ({"fusion": "asff_pan"}, 14_932_076, 11_906_041_364),
    "asff_pan_original": ({"fusion": "asff_pan", "asff_block": "original"}, 14_932_067, 11_905_995_878),
    "asff_pan_yolov4": ({"fusion": "asff_pan", "pan_block": "yolov4"}, 25_257_068, 17_870_200_340),
    "asff_pan_legacy": ({"fusion": "asff_pan", "pan_block": "light", "asff_block": "original", "compress_c": 16},
                        18_742_489, 14_168_452_912),
    "asff": ({"fusion": "asff"}, 9_756_377, 8_721_453_872),
    "asff_yolox_pai": ({"fusion": "asff", "asff_block": "yolox_pai"}, 9_756_386, 8_721_499_358),
}
NECK = 16_054_784  # YOLOv3Neck: left out where BiFPN takes the backbone's taps
OTHER_PARTS = 40_584_928 + NECK + 13_013_404  # backbone, neck, head (no RFB)
# The YOLOv8 family at scale s (80 classes), 640 px: its PAN is its own C2f PAFPN (no pan_block).
FULL_SIZE_V8S = {
    "pan": ({"fusion": "pan"}, 3_200_256, 2_049_024_000),
    "asff_pan": ({"fusion": "asff_pan"}, 8_601_452, 6_207_073_600),
    "asff_pan_legacy": ({"fusion": "asff_pan", "asff_block": "original", "compress_c": 16}, 8_639_705, 6_268_998_400),
    "bifpn": ({"fusion": "bifpn"}, 2_045_705, 3_365_171_200),
    "bifpn_full_fpn": ({"fusion": "bifpn", "bifpn_conv": "full", "bifpn_input": "fpn"}, 4_002_057, 8_532_377_600),
    "asff": ({"fusion": "asff"}, 5_439_449, 4_219_974_400),
    "asff_yolox_pai": ({"fusion": "asff", "asff_block": "yolox_pai"}, 5_439_458, 4_220_024_800),
}
V8S_OTHER_PARTS = 11_166_560 - 3_200_256  # yolov8s less its PAN path
V8S_NECK = 739_584  # its top-down half


@pytest.mark.parametrize("name", sorted(FULL_SIZE))
def test_full_size_neck_parameter_counts(name):
    kwargs, fusion_params, _ = FULL_SIZE[name]
    with torch.device("meta"):
        model = build_yolov3(**kwargs)
    assert sum(p.numel() for p in model.fusion.parameters()) == fusion_params
    neck = 0 if isinstance(model.neck, TapsAsLevels) else NECK
    assert sum(p.numel() for p in model.parameters()) == OTHER_PARTS - NECK + neck + fusion_params


@pytest.mark.parametrize("name", sorted(FULL_SIZE_V8S))
def test_v8s_neck_parameter_counts(name):
    kwargs, fusion_params, _ = FULL_SIZE_V8S[name]
    with torch.device("meta"):
        model = build_yolov8(scale="s", **kwargs)
    assert sum(p.numel() for p in model.fusion.parameters()) == fusion_params
    neck = 0 if isinstance(model.neck, TapsAsLevels) else V8S_NECK
    assert sum(p.numel() for p in model.parameters()) == V8S_OTHER_PARTS - V8S_NECK + neck + fusion_params


class FusionOutputs(torch.nn.Module):
    """Tracing wrapper: a fusion takes a list and returns (features, weights)."""

    def __init__(self, fusion: torch.nn.Module) -> None:
        super().__init__()
        self.fusion = fusion

    def forward(self, *features: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.fusion(list(features))[0])


def fusion_macs_at_64(model: torch.nn.Module) -> int:
    """fvcore's count of the fusion alone on 64 px maps (strides 32, 16, 8: 2, 4, 8 px). Every
    operator fvcore counts here (conv, BN, interpolation) scales with the map area, so the count
    at N px (a multiple of 32) is this one x (N / 64)^2: what `bench` reports as the fusion part."""
    from fvcore.nn import FlopCountAnalysis

    fusion = model.fusion.to_empty(device="cpu").eval()  # built on meta: shapes are all that count
    maps = tuple(torch.zeros(1, c, size, size) for c, size in zip(model.neck.out_channels, (2, 4, 8)))
    analysis = FlopCountAnalysis(FusionOutputs(fusion), maps)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return int(analysis.total())


@pytest.mark.parametrize("name", sorted(FULL_SIZE))
def test_full_size_neck_macs(name):
    kwargs, _, fusion_macs = FULL_SIZE[name]
    with torch.device("meta"):
        model = build_yolov3(**kwargs)
    assert fusion_macs_at_64(model) * (608 / 64) ** 2 == fusion_macs


@pytest.mark.parametrize("name", sorted(FULL_SIZE_V8S))
def test_v8s_neck_macs(name):
    kwargs, _, fusion_macs = FULL_SIZE_V8S[name]
    with torch.device("meta"):
        model = build_yolov8(scale="s", **kwargs)
    assert fusion_macs_at_64(model) * (640 / 64) ** 2 == fusion_macs
