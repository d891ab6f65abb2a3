"""Decoding, class-wise NMS with caps, and mapping boxes back to the original image."""

from __future__ import annotations

import math

import pytest
import torch

from asffbench.engine.box_coding import decode_level
from asffbench.engine.evaluate_model import eval_dtype
from asffbench.engine.inference import forward_batches
from asffbench.engine.postprocess import boxes_to_original, decode, postprocess
from asffbench.errors import UserError
from asffbench.models.outputs import LevelOutput

STRIDES = (32, 16, 8)
NUM_CLASSES = 3
ANCHOR = 20.0  # every slot of every level: a 20x20 anchor keeps the arithmetic readable
SILENT = -30.0  # logit of a prediction that must not become a candidate


def silent_levels(batch: int = 1, size: int = 64, slots: int = 3) -> list[LevelOutput]:
    """Predictions with objectness and classes switched off, boxes 20x20 at each cell centre."""
    levels = []
    for stride in STRIDES:
        cells = size // stride
        pred = torch.zeros(batch, slots, cells, cells, 5 + NUM_CLASSES)
        pred[..., 4:] = SILENT
        anchors = torch.full((batch, slots, cells, cells, 2), ANCHOR)
        levels.append(LevelOutput(pred, anchors, None, stride))
    return levels


def place(
    level: LevelOutput, where: tuple[int, int, int, int], xyxy: list[float], obj: float, classes: dict[int, float]
) -> None:
    """Make prediction `where` = (image, slot, y, x) encode box `xyxy` with the given probabilities."""
    image, slot, y, x = where
    cx, cy = (xyxy[0] + xyxy[2]) / 2, (xyxy[1] + xyxy[3]) / 2
    w, h = xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]
    offset = torch.tensor([cx / level.stride - x, cy / level.stride - y])
    assert ((offset > 0) & (offset < 1)).all(), "the box centre must lie in the chosen cell"
    anchor = level.anchors[image, slot, y, x]
    level.pred[image, slot, y, x, 0:2] = torch.logit(offset)
    level.pred[image, slot, y, x, 2:4] = torch.log(torch.tensor([w, h]) / anchor)
    level.pred[image, slot, y, x, 4] = math.log(obj / (1 - obj))
    for label, prob in classes.items():
        level.pred[image, slot, y, x, 5 + label] = math.log(prob / (1 - prob))


def test_decode_round_trips_a_known_box():
    levels = silent_levels(batch=2)
    place(levels[1], (1, 2, 3, 1), [18.0, 50.0, 40.0, 60.0], obj=0.8, classes={2: 0.6})
    boxes, objectness, class_probs = decode(levels)
    # Level 0 has 3*2*2 predictions, level 1 3*4*4: slot 2, y 3, x 1 is 12 + 2*16 + 3*4 + 1.
    index = 12 + 2 * 16 + 3 * 4 + 1
    assert boxes.shape == (2, 3 * (4 + 16 + 64), 4)
    assert class_probs.shape == (2, boxes.shape[1], NUM_CLASSES)
    assert boxes[1, index].tolist() == pytest.approx([18.0, 50.0, 40.0, 60.0], abs=1e-4)
    assert float(objectness[1, index]) == pytest.approx(0.8, abs=1e-6)
    assert class_probs[1, index].tolist() == pytest.approx([0.0, 0.0, 0.6], abs=1e-6)
    assert float(objectness[0, index]) < 1e-12


def test_decode_follows_the_anchor_rule_for_a_zero_prediction():
    level = silent_levels()[2]  # stride 8
    boxes = decode_level(level)
    # tx = tw = 0: centre in the middle of the cell, size = anchor.
    assert boxes[0, 0, 2, 5].tolist() == pytest.approx([44 - 10, 20 - 10, 44 + 10, 20 + 10])


def test_nms_is_class_wise_and_keeps_the_best_boxes():
    levels = silent_levels(batch=2)
    fine = levels[2]  # stride 8: 8x8 cells
    place(fine, (0, 0, 1, 1), [4, 4, 20, 20], obj=0.9, classes={0: 0.9})  # A: score 0.81
    place(fine, (0, 1, 1, 1), [5, 5, 21, 21], obj=0.8, classes={0: 0.9})  # B: overlaps A, class 0
    place(fine, (0, 2, 1, 1), [5, 4, 20, 21], obj=0.7, classes={1: 0.9})  # C: overlaps A, class 1
    place(fine, (0, 0, 6, 6), [44, 44, 60, 60], obj=0.5, classes={0: 0.5})  # D: far away, 0.25
    place(fine, (1, 0, 3, 3), [26, 26, 30, 30], obj=0.6, classes={2: 0.5})  # image 1: 0.3
    results = postprocess(levels, score_thresh=0.01, nms_iou=0.65, max_det=100)
    assert len(results) == 2
    first, second = results
    assert first["scores"].tolist() == pytest.approx([0.81, 0.63, 0.25], abs=1e-5)  # B suppressed
    assert first["labels"].tolist() == [0, 1, 0]
    expected = torch.tensor([[4.0, 4, 20, 20], [5, 4, 20, 21], [44, 44, 60, 60]])
    torch.testing.assert_close(first["boxes"], expected, atol=1e-3, rtol=0)
    assert second["labels"].tolist() == [2] and second["scores"].tolist() == pytest.approx([0.3], abs=1e-5)
    # A looser NMS keeps B too; a higher threshold drops D.
    assert len(postprocess(levels, score_thresh=0.01, nms_iou=0.95)[0]["scores"]) == 4
    strict = postprocess(levels, score_thresh=0.3, nms_iou=0.65)[0]
    assert strict["scores"].tolist() == pytest.approx([0.81, 0.63], abs=1e-5)


def test_one_box_can_be_detected_with_several_labels():
    levels = silent_levels()
    place(levels[0], (0, 0, 0, 0), [2, 2, 30, 30], obj=0.9, classes={0: 0.8, 2: 0.5})
    (result,) = postprocess(levels, score_thresh=0.01)
    assert result["labels"].tolist() == [0, 2]
    assert result["scores"].tolist() == pytest.approx([0.72, 0.45], abs=1e-5)


def test_max_det_and_pre_nms_topk_cap_the_detections():
    levels = silent_levels(batch=2)
    fine = levels[2]
    scores = {}
    for y in range(8):
        for x in range(8):  # 64 disjoint 4x4 boxes with distinct scores, in both images
            obj = 0.2 + 0.01 * (y * 8 + x)
            for image in range(2):
                square = [x * 8 + 2, y * 8 + 2, x * 8 + 6, y * 8 + 6]
                place(fine, (image, 0, y, x), square, obj=obj, classes={1: 0.99})
            scores[(y, x)] = obj * 0.99
    best = sorted(scores.values(), reverse=True)
    results = postprocess(levels, score_thresh=0.01, max_det=10)
    for result in results:
        assert result["scores"].tolist() == pytest.approx(best[:10], abs=1e-5)
    assert len(postprocess(levels, score_thresh=0.01, max_det=100)[1]["scores"]) == 64
    capped = postprocess(levels, score_thresh=0.01, pre_nms_topk=5)[0]
    assert capped["scores"].tolist() == pytest.approx(best[:5], abs=1e-5)


def test_nothing_above_the_threshold_gives_empty_results():
    results = postprocess(silent_levels(batch=3))
    assert [len(r["scores"]) for r in results] == [0, 0, 0]
    assert results[0]["boxes"].shape == (0, 4) and results[0]["labels"].dtype == torch.long


def test_boxes_map_back_to_original_coordinates_and_are_clipped():
    meta = {"image_id": 7, "orig_size": (100, 200), "scale": 0.5, "pad": (10, 30)}
    boxes = torch.tensor([[20.0, 40.0, 60.0, 70.0], [0.0, 0.0, 130.0, 100.0]])
    original = boxes_to_original(boxes, meta)
    assert original[0].tolist() == pytest.approx([20.0, 20.0, 100.0, 80.0])
    # (-20, -60, 240, 140) clipped to the 200 x 100 image.
    assert original[1].tolist() == pytest.approx([0.0, 0.0, 200.0, 100.0])


def test_without_clipping_boxes_keep_their_border_crossing_extent():
    meta = {"image_id": 7, "orig_size": (100, 200), "scale": 0.5, "pad": (10, 30)}
    boxes = torch.tensor([[0.0, 0.0, 130.0, 100.0]])
    assert boxes_to_original(boxes, meta, clip=False)[0].tolist() == pytest.approx([-20.0, -60.0, 240.0, 140.0])


def test_a_score_at_the_threshold_is_kept_only_when_inclusive():
    levels = silent_levels()
    place(levels[0], (0, 0, 0, 0), [4.0, 4.0, 24.0, 24.0], obj=0.5, classes={1: 0.5})
    score = postprocess(levels, score_thresh=0.0)[0]["scores"][0].item()  # the exact float score
    assert len(postprocess(levels, score_thresh=score)[0]["scores"]) == 0  # strict: >
    kept = postprocess(levels, score_thresh=score, score_inclusive=True)[0]
    assert kept["scores"].tolist() == [score] and kept["labels"].tolist() == [1]


def test_fp16_evaluation_is_refused_on_cpu_in_one_line():
    with pytest.raises(UserError, match="eval.precision=fp16: needs a CUDA device") as err:
        eval_dtype("fp16", torch.device("cpu"))
    assert "\n" not in str(err.value)
    assert eval_dtype("fp32", torch.device("cpu")) == torch.float32


def test_a_half_model_gets_half_inputs():
    model = torch.nn.Conv2d(3, 2, 1).to(torch.float64)  # CPU stand-in for a half model
    images = torch.randn(1, 3, 4, 4)
    (step,) = forward_batches(Wrapped(model), [(images, None, [])], torch.device("cpu"))
    assert step.output.dtype == torch.float64


class Wrapped(torch.nn.Module):
    """A stand-in detector: its output is the conv's."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, images):
        return self.inner(images)
