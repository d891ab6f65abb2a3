"""ONNX export: every fusion exports (guided anchoring on and off), ONNX Runtime equals eager,
an operator without ONNX form stops with one line, the missing extra is named."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from torch import nn

from asffbench.build import build_yolov3
from asffbench.deploy.export import OPSET, compare_with_eager, export_onnx, fixed_input
from asffbench.bench.flops_by_counter import onnx_count, thop_count
from asffbench.deploy.optional import require
from asffbench.deploy.session import OrtDetector, open_session
from asffbench.settings import RuntimeSettings
from asffbench.errors import UserError
from asffbench.models import FUSIONS

pytest.importorskip("onnxruntime")

IMG = 64


def tiny(fusion: str, guided: bool, deform_conv: str = "sampled") -> nn.Module:
    torch.manual_seed(0)
    return build_yolov3(fusion=fusion, width=0.25, depth=0.125, num_classes=3,
                        guided_anchoring=guided, deform_conv=deform_conv).eval()


def assert_exports_like_eager(model: nn.Module, graph: str = "raw") -> None:
    exported = export_onnx(model, IMG, graph)
    session = open_session(exported.onnx_bytes, RuntimeSettings())
    # Batch 2 through a graph traced at batch 1: the batch axis is dynamic.
    diff = compare_with_eager(model, exported, session, fixed_input(2, IMG))
    assert not diff.note, diff.note
    assert diff.max_rel < 1e-4, diff


def test_asff_with_guided_anchoring_exports_and_matches_eager():
    assert_exports_like_eager(tiny("asff", True))


@pytest.mark.slow
@pytest.mark.parametrize("guided", [False, True])
@pytest.mark.parametrize("fusion", FUSIONS.names())
def test_every_fusion_exports_and_matches_eager(fusion, guided):
    assert_exports_like_eager(tiny(fusion, guided))


@pytest.mark.slow
def test_decode_graph_matches_eager_and_ort_detector_gives_the_eager_levels():
    model = tiny("asff", True)
    assert_exports_like_eager(model, "decode")
    exported = export_onnx(model, IMG, "raw")
    images = fixed_input(3, IMG)
    ours = OrtDetector(open_session(exported.onnx_bytes, RuntimeSettings()))(images)
    with torch.no_grad():
        eager = model(images)
    assert [lv.stride for lv in ours.levels] == [lv.stride for lv in eager.levels]
    for a, b in zip(ours.levels, eager.levels):
        torch.testing.assert_close(a.pred, b.pred, rtol=1e-4, atol=1e-4)


def test_torchvision_deform_conv_stops_with_one_line_naming_the_operator():
    with pytest.raises(UserError) as err:
        export_onnx(tiny("none", True, deform_conv="torchvision"), IMG)
    message = str(err.value)
    assert "deform_conv2d" in message and "model.deform_conv=sampled" in message
    assert "\n" not in message


def test_missing_extra_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as when not installed
    with pytest.raises(UserError, match=r"bench.runtime=onnxruntime: .*pip install 'asffbench\[deploy\]'"):
        require("onnxruntime", "bench.runtime=onnxruntime")


def test_onnx_count_is_the_conv_and_gemm_macs():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5))
    exported_bytes = onnx_bytes_of(model, 8)
    count = onnx_count(exported_bytes, 8)
    assert count.gmacs * 1e9 == pytest.approx(4 * 8 * 8 * 3 * 9 + 4 * 8 * 8 * 5)
    assert "Relu" in count.skipped and "Flatten" in count.skipped


def test_thop_counts_modules_and_names_what_it_skips():
    model = tiny("asff", True)
    count = thop_count(model, IMG)
    assert count.unit == "MACs" and count.gmacs > 0
    assert "SampledDeformConv2d" in count.skipped
    assert not any("total_ops" in key for key in model.state_dict())  # thop's buffers removed


def onnx_bytes_of(model: nn.Module, size: int) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(1, 3, size, size),), buffer, opset_version=OPSET, dynamo=False)
    return buffer.getvalue()


@pytest.mark.slow
def test_export_command_writes_the_file_and_prints_the_difference_and_counts(cli, tmp_path):
    out = tmp_path / "tiny.onnx"
    code, stdout, err = cli("export", "model=tiny", f"img_size={IMG}", "model.deform_conv=sampled",
                            "--out", str(out), "--flops", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert out.is_file() and result["opset"] == OPSET and result["runtime"] == "onnxruntime"
    assert result["difference"]["max_rel"] < 1e-4 and result["input_norm"] == "imagenet"
    counters = {c["counter"]: c for c in result["flops_by_counter"]}
    assert set(counters) == {"fvcore", "thop", "onnx graph"}
    assert all(c["input"] == f"1x3x{IMG}x{IMG}" and c["unit"] for c in counters.values())
    # fvcore and the ONNX graph count the same convolutions and matmuls (batch norm folded away).
    assert counters["onnx graph"]["gmacs"] == pytest.approx(counters["fvcore"]["gmacs"], rel=0.05)


def test_export_command_refuses_torchvision_deform_conv_in_one_line(cli, one_line_error, tmp_path):
    code, _out, err = cli("export", "model=tiny", f"img_size={IMG}", "model.deform_conv=torchvision",
                          "--out", str(tmp_path / "x.onnx"))
    one_line_error(code, err, "deform_conv2d")
    assert not (tmp_path / "x.onnx").exists()
