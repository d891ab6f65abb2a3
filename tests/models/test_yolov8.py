"""The YOLOv8 family against its oracle: parameter counts at every scale, and the raw per-level
outputs of the same random weights, loaded through weights/ in ultralytics' layout."""

from __future__ import annotations

import pytest
import torch

from asffbench.bench.flops import count_flops
from asffbench.bench.params import count_params
from asffbench.build_yolov8 import build_yolov8
from asffbench.models import AnchorFreeLevel
from asffbench.weights.load import load_weights
from tests.models.yolov8_oracle import oracle_model, randomized

PUBLISHED_PARAMS = {"n": 3_157_200, "s": 11_166_560}  # measured with the pinned package, 80 classes


@pytest.mark.parametrize("scale", ["n", "s"])
def test_params_equal_published_and_oracle(scale):
    ours = count_params(build_yolov8(scale=scale))
    assert ours == PUBLISHED_PARAMS[scale] == count_params(oracle_model(scale))


@pytest.mark.slow
@pytest.mark.parametrize("scale", ["m", "l", "x"])
def test_params_equal_oracle_large_scales(scale):
    assert count_params(build_yolov8(scale=scale)) == count_params(oracle_model(scale))


def test_params_equal_oracle_other_class_count():
    assert count_params(build_yolov8(scale="n", num_classes=3)) == count_params(oracle_model("n", 3))


@pytest.mark.parametrize("scale,size", [("n", 96), ("s", 64)])
def test_outputs_equal_oracle_on_same_weights(scale, size, tmp_path):
    oracle = randomized(oracle_model(scale)).eval()
    path = tmp_path / f"yolov8{scale}_state.pt"
    torch.save(oracle.state_dict(), path)
    ours = build_yolov8(scale=scale).eval()
    loaded = load_weights(ours, path)
    assert loaded.format == "ultralytics-layout state dict"
    images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        _, raw = oracle(images)
        levels = ours(images).levels
    assert all(isinstance(level, AnchorFreeLevel) for level in levels)
    assert [level.stride for level in levels] == [32, 16, 8]
    finest_first = list(reversed(levels))  # ultralytics concatenates levels from stride 8
    flat = torch.cat([level.pred.flatten(2) for level in finest_first], dim=2)
    expected = torch.cat([raw["boxes"], raw["scores"]], dim=1)
    assert flat.shape == expected.shape
    torch.testing.assert_close(flat, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def test_initialisation_as_oracle():
    """BatchNorm eps/momentum and the head's bias priors are the oracle's."""
    ours, oracle = build_yolov8(scale="n"), oracle_model("n")
    bns = [m for m in ours.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.eps == 1e-3 and m.momentum == 0.03 for m in bns)
    detect = oracle.model[-1]
    for level in range(3):
        j = 2 - level
        torch.testing.assert_close(ours.head.box_branches[level][-1].bias, detect.cv2[j][-1].bias)
        torch.testing.assert_close(ours.head.class_branches[level][-1].bias, detect.cv3[j][-1].bias)
    assert not ours.head.dfl.conv.weight.requires_grad


@pytest.mark.slow
@pytest.mark.parametrize("scale", ["n", "s"])
def test_flops_beside_oracle(scale):
    """fvcore's count (bench/) within 1.5% of ultralytics' GFLOPs (thop: it also counts the
    BatchNorms and pools that fvcore leaves out); 8.80 vs 8.86 (n), 28.71 vs 28.81 (s) at 640."""
    torch_utils = pytest.importorskip("ultralytics.utils.torch_utils")
    ours = count_flops(build_yolov8(scale=scale), 320).gflops
    theirs = torch_utils.get_flops(oracle_model(scale), 320)
    assert ours == pytest.approx(theirs, rel=0.015)
    assert ours < theirs
