"""`asffbench export --graph nms`: the graph's detections equal the project's eager decode and
NMS (`engine.postprocess.postprocess`) row for row, on a model whose scores are all distinct."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from asffbench.deploy.export import INPUT_NAME, compare_with_eager, export_onnx, fixed_input, nearest_rows
from asffbench.deploy.session import open_session
from asffbench.engine.postprocess import postprocess
from asffbench.settings import RuntimeSettings
from tests.deploy.test_export import IMG, tiny

pytest.importorskip("onnxruntime")

NMS = {"score_thresh": 0.001, "nms_iou": 0.65, "pre_nms_topk": 10000}


def spread_scores(model: nn.Module) -> nn.Module:
    """A fresh model's features barely vary over the image, so its scores tie by the hundred: a
    fixed jitter of every weight and new prediction convs make every score distinct."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.05)
        for name, module in model.named_modules():
            if name.endswith(".pred"):
                module.weight.normal_(0, 0.2, generator=generator)
                module.bias.normal_(0, 1.0, generator=generator)
    return model


def eager_rows(model: nn.Module, images: Tensor, multi_label: bool) -> Tensor:
    """The eager post-processing's detections (no max_det cap, as the graph) as the graph's rows."""
    with torch.no_grad():
        per_image = postprocess(model(images).levels, max_det=0, multi_label=multi_label, **NMS)
    return torch.cat([torch.cat([torch.full_like(d["scores"][:, None], i), d["boxes"], d["scores"][:, None],
                                 d["labels"][:, None].float()], dim=1) for i, d in enumerate(per_image)])


@pytest.mark.parametrize("multi_label", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_nms_graph_detections_equal_the_eager_post_processing(multi_label):
    model = spread_scores(tiny("asff", True))
    exported = export_onnx(model, IMG, "nms", multi_label=multi_label, **NMS)
    images = fixed_input(2, IMG)  # batch 2 through a graph traced at batch 1
    ours = torch.from_numpy(open_session(exported.onnx_bytes, RuntimeSettings()).run(None, {INPUT_NAME: images.numpy()})[0])
    eager = eager_rows(model, images, multi_label)
    assert len(eager) > 200 and set(eager[:, 0].tolist()) == {0.0, 1.0}
    assert eager[:, 5].unique().numel() == len(eager)  # no ties: each row has one partner
    assert (ours[:, 5].diff() <= 0).all()  # the graph's rows by decreasing score
    assert ours.shape == eager.shape
    distance, partner = nearest_rows(ours, eager)
    assert partner.unique().numel() == len(eager)  # a one-to-one matching
    matched = eager[partner]
    assert torch.equal(ours[:, [0, 6]], matched[:, [0, 6]])  # image and label
    torch.testing.assert_close(ours[:, 1:5], matched[:, 1:5], rtol=1e-5, atol=1e-3)  # box, input px (some are large)
    torch.testing.assert_close(ours[:, 5], matched[:, 5], rtol=0, atol=1e-5)  # score


def test_export_check_of_the_nms_graph_finds_other_detections():
    model = spread_scores(tiny("none", False))
    images = fixed_input(2, IMG)
    exported = export_onnx(model, IMG, "nms", **NMS)
    session = open_session(exported.onnx_bytes, RuntimeSettings())
    same = compare_with_eager(model, exported, session, images, **NMS)
    # Boxes are in input pixels (up to IMG): float32 sums taken in another order with another
    # thread count move them by about 1e-3 px (1.16e-3 seen with one thread), so allow 5e-3;
    # a different detection set moves a row by whole pixels, as the second check shows.
    assert not same.note and same.max_abs < 5e-3, same
    # The same graph checked against eager NMS at another IoU threshold: other rows, and it says so.
    other = compare_with_eager(model, exported, session, images, **{**NMS, "nms_iou": 0.3})
    assert other.note.startswith("detections differ") or other.max_abs > 1, other
