"""Decoding and NMS of the anchor-free family against ultralytics' Detect decode and
non_max_suppression (the oracle, a dev dependency) with its validation and prediction settings."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from asffbench.engine.anchor_free_coding import decode_anchor_free
from asffbench.engine.postprocess import Candidates, class_wise_nms, postprocess
from asffbench.models.outputs import AnchorFreeLevel
from asffbench.settings import PostprocessSettings
from tests.engine.anchor_free_oracle import random_levels, ultralytics_preds

# Ultralytics' validation and prediction, as asffbench's post-processing keys (docs/anchor-free.md).
VAL = PostprocessSettings(score_thresh=0.001, nms_iou=0.7, max_det=300, pre_nms_topk=30000, multi_label=True,
                          class_offset=7680.0)
PREDICT = PostprocessSettings(score_thresh=0.25, nms_iou=0.7, max_det=300, pre_nms_topk=30000, multi_label=False,
                              class_offset=7680.0)


@pytest.fixture(scope="module")
def oracle():
    head = pytest.importorskip("ultralytics.nn.modules.head")
    nms = pytest.importorskip("ultralytics.utils.nms")
    return head.Detect, nms.non_max_suppression


def decoded_by_ultralytics(detect_class, levels: list[AnchorFreeLevel]) -> torch.Tensor:
    """(B, 4 + C, A): its Detect head's eval-mode decode of the same raw maps (xywh px, sigmoid)."""
    num_classes = levels[0].pred.shape[1] - 4 * levels[0].reg_max
    detect = detect_class(nc=num_classes, ch=(16, 16, 16)).eval()
    detect.stride = torch.tensor([8.0, 16.0, 32.0])
    with torch.no_grad():
        return detect._inference(ultralytics_preds(levels))


def test_decode_equals_ultralytics_detect(oracle):
    levels = random_levels(2, 5, 320, seed=4)
    boxes, probs = decode_anchor_free(levels)
    theirs = decoded_by_ultralytics(oracle[0], levels)
    centre, size = theirs[:, :2], theirs[:, 2:4]
    their_boxes = torch.cat((centre - size / 2, centre + size / 2), dim=1).transpose(1, 2)
    # Ours run stride 32, 16, 8; theirs 8, 16, 32: point n of ours is point order[n] of theirs.
    order = torch.cat((torch.arange(2000, 2100), torch.arange(1600, 2000), torch.arange(0, 1600)))
    torch.testing.assert_close(boxes, their_boxes[:, order], rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(probs, theirs[:, 4:].transpose(1, 2)[:, order])


@pytest.mark.parametrize("settings, num_classes, img_size", [
    (VAL, 80, 640), (VAL, 3, 320), (PREDICT, 80, 640), (PREDICT, 3, 320)])
def test_detections_equal_ultralytics_val_and_predict(oracle, settings, num_classes, img_size):
    """Its cap on the boxes entering NMS (max_nms, 30000) is lowered alike on both sides (2000),
    so that the cap is reached and NMS stays fast."""
    settings = replace(settings, pre_nms_topk=2000)
    levels = random_levels(2, num_classes, img_size, seed=num_classes, class_bias=-6.0)
    ours = postprocess(levels, **settings.kwargs())
    theirs = oracle[1](decoded_by_ultralytics(oracle[0], levels), settings.score_thresh, settings.nms_iou,
                       multi_label=settings.multi_label, max_det=settings.max_det, max_nms=settings.pre_nms_topk,
                       max_time_img=60.0)
    assert sum(len(found["scores"]) for found in ours) > 20
    for found, expected in zip(ours, theirs):
        assert len(found["scores"]) == len(expected)
        torch.testing.assert_close(found["scores"], expected[:, 4])
        assert torch.equal(found["labels"], expected[:, 5].long())
        torch.testing.assert_close(found["boxes"], expected[:, :4], rtol=1e-5, atol=1e-3)


def test_class_offset_rounds_as_ultralytics_does(oracle):
    """Two boxes of class 79 with IoU 0.69996 (kept both at NMS IoU 0.7). Shifted by 79 x 7680 px
    in float32 (steps of 1/16 px there) the second box's x1 17.65 becomes 17.625 and the IoU
    0.70032: ultralytics suppresses it, and so does `class_offset=7680`; 0 keeps both."""
    boxes = torch.tensor([[0.0, 0.0, 100.0, 10.0], [17.65, 0.0, 117.65, 10.0]])
    candidates = Candidates(boxes, torch.tensor([0.9, 0.8]), torch.tensor([79, 79]), torch.tensor([0, 0]), 80)
    assert class_wise_nms(candidates, 0.7, class_offset=0.0).tolist() == [0, 1]
    assert class_wise_nms(candidates, 0.7, class_offset=7680.0).tolist() == [0]

    decoded = torch.zeros(1, 4 + 80, 2)
    decoded[0, :4] = torch.cat(((boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]), dim=1).T
    decoded[0, 4 + 79] = torch.tensor([0.9, 0.8])
    assert len(oracle[1](decoded, 0.25, 0.7)[0]) == 1
