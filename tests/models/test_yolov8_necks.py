"""The fusion axis on the YOLOv8 family: every neck builds, runs and reports its weights; params
pinned at n scale (80 classes); what the family cannot have is refused from registry facts."""

from __future__ import annotations

import pytest
import torch

from asffbench.bench.params import count_params
from asffbench.build import build_model, build_yolov3
from asffbench.build_yolov8 import build_yolov8
from asffbench.config.compose import compose_config
from asffbench.errors import UserError
from asffbench.models import fusion_info

# yolov8n at 80 classes. pan is ultralytics' own yolov8n (3,157,200); none drops its bottom-up
# path; asff adds ASFF (with its 3x3 expand) on the top-down levels, asff_pan on the PAN's
# (YOLOX-PAI's block: 4,529,705 with the original one, compress_c 16); bifpn is EfficientDet's
# (separable nodes on the backbone's taps: 3,357,401 with full nodes after the top-down neck).
NECK_PARAMS_N = {
    "pan": 3_157_200,
    "none": 2_355_792,
    "asff": 3_728_297,
    "asff_pan": 4_510_268,
    "afpn": 2_673_285,
    "bifpn": 2_685_273,
}


@pytest.mark.parametrize("fusion", sorted(NECK_PARAMS_N))
def test_neck_params_pinned_at_n(fusion):
    assert count_params(build_yolov8(scale="n", fusion=fusion)) == NECK_PARAMS_N[fusion]


@pytest.mark.parametrize("fusion,keys,params", [
    ("asff_pan", {"asff_block": "original", "compress_c": 16}, 4_529_705),
    ("bifpn", {"bifpn_conv": "full", "bifpn_input": "fpn"}, 3_357_401),
])
def test_earlier_forms_keep_their_counts_at_n(fusion, keys, params):
    with torch.device("meta"):
        assert count_params(build_yolov8(scale="n", fusion=fusion, **keys)) == params


@pytest.mark.parametrize("fusion", sorted(NECK_PARAMS_N))
def test_every_neck_runs_and_reports_its_weights(fusion):
    torch.manual_seed(0)
    model = build_yolov8(scale="n", width=0.125, depth=0.33, num_classes=3, fusion=fusion).eval()
    with torch.no_grad():
        output = model(torch.randn(2, 3, 64, 64), return_fusion_weights=True)
    assert [tuple(level.pred.shape) for level in output.levels] == [(2, 64 + 3, s, s) for s in (2, 4, 8)]
    info = fusion_info(fusion)
    if info.adaptive:
        weights = output.fusion_weights
        assert [tuple(w.shape) for w in weights] == [(2, 3, s, s) for s in (2, 4, 8)]
        torch.testing.assert_close(weights[0].sum(dim=1), torch.ones(2, 2, 2))
    else:
        assert output.fusion_weights is None
    if info.edge_weights:
        edges = model.fusion.edge_weights()
        assert edges["layers"] and all(abs(sum(node.values()) - 1) < 1e-3 for node in edges["layers"][0].values())


def test_afpn_replaces_the_neck_on_both_families():
    v8 = build_yolov8(scale="n", fusion="afpn")
    assert not list(v8.neck.parameters())
    v3 = build_yolov3(fusion="afpn", width=0.25, depth=0.125, num_classes=3).eval()
    assert not list(v3.neck.parameters())
    with torch.no_grad():
        output = v3(torch.randn(1, 3, 64, 64), return_fusion_weights=True)
    assert [tuple(w.shape) for w in output.fusion_weights] == [(1, 3, s, s) for s in (2, 4, 8)]


def test_family_default_fusion_is_pan_and_scale_sets_the_model():
    cfg = compose_config(["model=yolov8", "model.scale=s"])
    assert cfg.fusion.name == "pan"
    assert count_params(build_model(cfg)) == 11_166_560
    assert compose_config(["model=yolov8", "fusion=asff"]).fusion.name == "asff"


@pytest.mark.parametrize("overrides,words", [
    (["fusion=asff_star"], "has none of ASFF*'s parts"),
    (["fusion=pan", "fusion.pan_merge=sum"], "concatenates"),
    (["model.scale=q"], "model.scale=q: unknown scale"),
])
def test_what_the_family_cannot_have_is_refused_in_one_line(overrides, words):
    with pytest.raises(UserError) as err:
        build_model(compose_config(["model=yolov8", *overrides]))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_width_and_depth_override_the_scale():
    smaller = build_yolov8(scale="s", width=0.25, depth=0.33)
    assert count_params(smaller) == count_params(build_yolov8(scale="n"))
