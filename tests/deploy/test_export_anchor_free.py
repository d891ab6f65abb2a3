"""ONNX export of the YOLOv8 family's raw graph: one `pred_<i>` per level (DFL bins and class
logits), ONNX Runtime equal to eager for every neck, and `OrtDetector` giving the eager levels."""

from __future__ import annotations

import pytest
import torch

from asffbench.build_yolov8 import build_yolov8
from asffbench.deploy.export import compare_with_eager, export_onnx, fixed_input
from asffbench.deploy.session import OrtDetector, open_session
from asffbench.models import AnchorFreeLevel
from asffbench.settings import RuntimeSettings

pytest.importorskip("onnxruntime")

IMG = 64


def tiny_v8(fusion: str):
    torch.manual_seed(0)
    return build_yolov8(scale="n", width=0.125, num_classes=3, fusion=fusion).eval()


@pytest.mark.parametrize("fusion", ["pan", pytest.param("asff_pan", marks=pytest.mark.slow),
                                    pytest.param("afpn", marks=pytest.mark.slow),
                                    pytest.param("bifpn", marks=pytest.mark.slow)])
def test_raw_graph_exports_and_matches_eager(fusion):
    model = tiny_v8(fusion)
    exported = export_onnx(model, IMG, "raw")
    assert exported.outputs == ["pred_0", "pred_1", "pred_2"] and exported.strides == [32, 16, 8]
    session = open_session(exported.onnx_bytes, RuntimeSettings())
    diff = compare_with_eager(model, exported, session, fixed_input(2, IMG))
    assert not diff.note, diff.note
    assert diff.max_rel < 1e-4, diff


def test_ort_detector_gives_the_eager_anchor_free_levels():
    model = tiny_v8("pan")
    exported = export_onnx(model, IMG, "raw")
    images = fixed_input(2, IMG)
    ours = OrtDetector(open_session(exported.onnx_bytes, RuntimeSettings()))(images)
    with torch.no_grad():
        eager = model(images)
    assert all(isinstance(level, AnchorFreeLevel) and level.reg_max == 16 for level in ours.levels)
    for got, want in zip(ours.levels, eager.levels):
        assert got.stride == want.stride
        torch.testing.assert_close(got.pred, want.pred, rtol=1e-4, atol=1e-4 * want.pred.abs().max().item())
