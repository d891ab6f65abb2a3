"""ONNX export of the YOLOv8 family: the raw graph (one `pred_<i>` per level: DFL bins and class
logits), ONNX Runtime equal to eager for every neck, `OrtDetector` giving the eager levels; the
decode graph (the DFL boxes and class probabilities the evaluation decodes) and the nms graph
(the evaluation's detections)."""

from __future__ import annotations

import json

import pytest
import torch

from asffbench.build_yolov8 import build_yolov8
from asffbench.deploy.export import INPUT_NAME, compare_with_eager, export_onnx, fixed_input, nearest_rows
from asffbench.deploy.session import OrtDetector, open_session
from asffbench.engine.anchor_free_coding import decode_anchor_free
from asffbench.engine.postprocess import postprocess
from asffbench.models import AnchorFreeLevel
from asffbench.settings import RuntimeSettings

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

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


def spread_v8(fusion: str = "pan"):
    """A tiny YOLOv8 whose scores and boxes differ from anchor to anchor (a fresh one's tie)."""
    model = tiny_v8(fusion)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.1)
        for branch in model.head.class_branches:  # from the init's prior (~0.005) to about 0.5
            branch[-1].bias.normal_(0, 0.5, generator=generator)
    return model


@pytest.mark.slow  # ~3-5 s: a tiny YOLOv8 exported and run in ONNX Runtime at batch 2
def test_decode_graph_gives_the_family_dfl_boxes_and_class_probabilities():
    model = spread_v8()
    exported = export_onnx(model, IMG, "decode")
    assert exported.outputs == ["boxes", "objectness", "class_probs"]
    images = fixed_input(2, IMG)  # batch 2 through a graph traced at batch 1
    session = open_session(exported.onnx_bytes, RuntimeSettings())
    boxes, objectness, class_probs = (torch.from_numpy(o) for o in session.run(None, {INPUT_NAME: images.numpy()}))
    with torch.no_grad():
        want_boxes, want_probs = decode_anchor_free(model(images).levels)
    anchors = sum((IMG // s) ** 2 for s in (8, 16, 32))
    assert boxes.shape == (2, anchors, 4) and class_probs.shape == (2, anchors, 3)
    assert torch.equal(objectness, torch.ones(2, anchors))  # no objectness: score = class probability
    torch.testing.assert_close(boxes, want_boxes, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(class_probs, want_probs, rtol=1e-4, atol=1e-5)
    assert want_boxes.std() > 1 and want_probs.std() > 0.01  # not a constant the two could share by chance


@pytest.mark.slow  # ~3-4 s: likewise, with NMS in the graph
def test_nms_graph_detections_equal_the_family_post_processing():
    model = spread_v8()
    nms = {"score_thresh": 0.01, "nms_iou": 0.7, "pre_nms_topk": 30000, "multi_label": True}
    exported = export_onnx(model, IMG, "nms", **nms)
    images = fixed_input(2, IMG)
    session = open_session(exported.onnx_bytes, RuntimeSettings())
    ours = torch.from_numpy(session.run(None, {INPUT_NAME: images.numpy()})[0])
    with torch.no_grad():
        per_image = postprocess(model(images).levels, max_det=0, **nms)
    eager = torch.cat([torch.cat([torch.full_like(d["scores"][:, None], i), d["boxes"], d["scores"][:, None],
                                  d["labels"][:, None].float()], dim=1) for i, d in enumerate(per_image)])
    assert len(eager) > 50 and ours.shape == eager.shape
    distance, partner = nearest_rows(ours, eager)
    # one-to-one, the same rows up to float32 summation order (boxes in input px)
    assert partner.unique().numel() == len(eager) and distance.max() < 5e-3


@pytest.mark.slow  # ~4-5 s: the command composes, builds, exports and checks in ONNX Runtime
def test_export_command_writes_the_decode_graph_with_its_input(cli, tmp_path):
    out = tmp_path / "v8.onnx"
    code, stdout, err = cli("export", "model=yolov8", "model.width=0.125", "model.num_classes=3", f"img_size={IMG}",
                            "device=cpu", "--graph", "decode", "--out", str(out), "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["outputs"] == ["boxes", "objectness", "class_probs"] and result["input_norm"] == "rgb01"
    assert result["difference"]["max_rel"] < 1e-4
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert props["asffbench.input_mean"] == "0.0,0.0,0.0" and props["asffbench.input_std"] == "1.0,1.0,1.0"
    assert props["asffbench.graph"] == "decode" and props["asffbench.reg_max"] == "16"
