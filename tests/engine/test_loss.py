"""YOLOLoss on hand-built level outputs: terms, ignore mask, smoothing, mixup weights, edge cases."""

from __future__ import annotations

import math

import pytest
import torch

from asffbench.config.schema import COCO_ANCHORS
from asffbench.engine.loss import PART_NAMES, YOLOLoss, label_smoothing_delta
from asffbench.engine.targets import priors_per_level
from asffbench.models.outputs import LevelOutput

STRIDES = (32, 16, 8)
PRIORS = priors_per_level(COCO_ANCHORS, STRIDES)
NUM_CLASSES = 3


def level_bases(index: int, guided: bool) -> torch.Tensor:
    """(S, 2) base shapes of a level's slots: its priors, plus 4 * stride for the anchor-free slot."""
    bases = PRIORS[index]
    if guided:
        bases = torch.cat((bases, torch.full((1, 2), 4.0 * STRIDES[index])))
    return bases


def guided_level(index: int, pred: torch.Tensor, shape_pred: torch.Tensor) -> LevelOutput:
    """A guided-anchoring level whose anchors follow from shape_pred, as the model computes them."""
    anchors = level_bases(index, True)[None, :, None, None, :] * shape_pred.exp()
    return LevelOutput(pred, anchors, shape_pred, STRIDES[index])


def make_levels(
    batch: int = 2, size: int = 128, guided: bool = False, seed: int | None = None
) -> list[LevelOutput]:
    """Predictions (zeros, or small random values with a seed) that require grad; anchors are
    the priors, or with guided anchoring computed from shape_pred."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    levels = []
    for index, stride in enumerate(STRIDES):
        cells = size // stride
        slots = 4 if guided else 3
        pred = torch.zeros(batch, slots, cells, cells, 5 + NUM_CLASSES)
        if generator is not None:
            pred = 0.5 * torch.randn(pred.shape, generator=generator)
        pred.requires_grad_(True)
        if guided:
            shape_pred = torch.zeros(batch, slots, cells, cells, 2, requires_grad=True)
            levels.append(guided_level(index, pred, shape_pred))
        else:
            anchors = level_bases(index, False)[None, :, None, None, :].expand(batch, slots, cells, cells, 2)
            levels.append(LevelOutput(pred, anchors, None, stride))
    return levels


def box(cx: float, cy: float, w: float, h: float) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def targets(*rows: tuple[int, int, list[float], float]) -> torch.Tensor:
    """Rows of (image, label, xyxy, weight) as the (M, 7) targets tensor."""
    return torch.tensor([[img, label, *xyxy, weight] for img, label, xyxy, weight in rows], dtype=torch.float32)


def make_loss(**options) -> YOLOLoss:
    settings = dict(iou_loss=False, label_smoothing=False, guided_anchoring=False)
    settings.update(options)
    return YOLOLoss(NUM_CLASSES, COCO_ANCHORS, **settings)


# A box whose shape is prior 4 (62x45): stride 16 (level 1), slot 1, cell (3, 2) at 128 px.
BOX = box(56, 40, 62, 45)


def test_parts_are_floats_that_add_up_to_the_total():
    loss = make_loss(iou_loss=True, label_smoothing=True, guided_anchoring=True)
    levels = make_levels(guided=True, seed=0)
    total, parts = loss(levels, targets((0, 1, BOX, 1.0), (1, 2, box(30, 90, 12, 14), 1.0)))
    assert set(parts) == set(PART_NAMES) | {"total"}
    assert all(isinstance(value, float) for value in parts.values())
    assert math.isclose(sum(parts[name] for name in PART_NAMES), parts["total"], rel_tol=1e-5)
    assert math.isclose(total.item(), parts["total"], rel_tol=1e-6)
    assert all(parts[name] > 0 for name in PART_NAMES)
    total.backward()
    assert all(torch.isfinite(level.pred.grad).all() for level in levels)
    assert levels[1].shape_pred.grad.abs().sum() > 0


def test_box_terms_reach_only_the_assigned_prediction():
    loss = make_loss(iou_loss=True)
    levels = make_levels()
    total, _ = loss(levels, targets((1, 2, BOX, 1.0)))
    total.backward()
    grad = levels[1].pred.grad
    box_and_class = grad[..., [0, 1, 2, 3, 5, 6, 7]].abs().sum(dim=-1)
    assert box_and_class[1, 1, 2, 3] > 0
    box_and_class[1, 1, 2, 3] = 0
    assert box_and_class.sum() == 0
    assert levels[0].pred.grad[..., :4].abs().sum() == 0 and levels[2].pred.grad[..., :4].abs().sum() == 0


def test_zero_predictions_give_the_closed_form_terms():
    loss = make_loss()
    _, parts = loss(make_levels(batch=2), targets((0, 0, BOX, 1.0)))
    # xy: BCE(0, offset) = log 2 per coordinate; wh: log(box / prior) = 0 (exact prior shape).
    size_weight = 2 - 62 * 45 / 128**2
    assert math.isclose(parts["xy"], 2 * math.log(2) * size_weight / 2, rel_tol=1e-5)
    assert parts["wh"] == pytest.approx(0.0, abs=1e-6)
    assert math.isclose(parts["cls"], NUM_CLASSES * math.log(2) / 2, rel_tol=1e-5)
    # obj: every prediction costs log 2 at logit 0, except ignored ones (none overlap enough here).
    predictions = 2 * 3 * (4 * 4 + 8 * 8 + 16 * 16)
    assert math.isclose(parts["obj"], predictions * math.log(2) / 2, rel_tol=1e-5)
    assert parts["iou"] == 0.0 and parts["shape"] == 0.0


def test_unassigned_predictions_overlapping_a_box_are_ignored_for_objectness():
    levels = make_levels(batch=1)
    # Level 2 (stride 8), slot 2 (prior 33x23) at cell (7, 5) decodes exactly to BOX; it is not
    # the assigned prediction (that is level 1, slot 1, cell (3, 2)).
    with torch.no_grad():
        levels[2].pred[0, 2, 5, 7, 0:4] = torch.tensor([0.0, 0.0, math.log(62 / 33), math.log(45 / 23)])

    def obj_part(ignore_thresh: float, logit_at: tuple[int, int, int, int, int] | None, value: float) -> float:
        if logit_at is not None:
            level, *where = logit_at
            with torch.no_grad():
                levels[level].pred[(0, *where, 4)] = value
        _, parts = make_loss(ignore_thresh=ignore_thresh)(levels, targets((0, 0, BOX, 1.0)))
        if logit_at is not None:
            with torch.no_grad():
                levels[level].pred[(0, *where, 4)] = 0.0
        return parts["obj"]

    base = obj_part(0.7, None, 0.0)
    # The ignored prediction's objectness does not count, whatever it says.
    assert obj_part(0.7, (2, 2, 5, 7), 20.0) == pytest.approx(base, rel=1e-6)
    # A prediction far from the box is a negative: a confident logit costs about 20.
    assert obj_part(0.7, (2, 0, 14, 14), 20.0) == pytest.approx(base - math.log(2) + 20.0, rel=1e-4)
    # The assigned prediction is a positive even though it also overlaps the box.
    assert obj_part(0.7, (1, 1, 2, 3), -20.0) == pytest.approx(base - math.log(2) + 20.0, rel=1e-4)
    # With a threshold above 1 nothing is ignored.
    nothing_ignored = obj_part(1.01, None, 0.0)
    assert obj_part(1.01, (2, 2, 5, 7), 20.0) == pytest.approx(nothing_ignored - math.log(2) + 20.0, rel=1e-4)
    # The ignored prediction is one fewer log 2 than without any ignoring.
    assert obj_part(1.01, None, 0.0) == pytest.approx(base + math.log(2), rel=1e-5)


def class_target_seen_by_the_loss(label_smoothing: bool) -> torch.Tensor:
    """At logit 0 the BCE gradient is (0.5 - target) / batch: read the targets back from it."""
    levels = make_levels(batch=2)
    total, _ = make_loss(label_smoothing=label_smoothing)(levels, targets((0, 1, BOX, 1.0)))
    total.backward()
    return 0.5 - 2 * levels[1].pred.grad[0, 1, 2, 3, 5:]


def test_label_smoothing_values():
    assert class_target_seen_by_the_loss(False).tolist() == pytest.approx([0.0, 1.0, 0.0], abs=1e-6)
    delta = label_smoothing_delta(NUM_CLASSES)
    assert delta == pytest.approx(0.1)  # 1/3 is capped at 0.1
    assert class_target_seen_by_the_loss(True).tolist() == pytest.approx([delta, 1 - delta, delta], abs=1e-6)
    assert label_smoothing_delta(80) == pytest.approx(1 / 80)


@pytest.mark.parametrize("weighting,scaled", [("all_terms", True), ("positive_objectness", False)])
def test_mixup_weights_scale_the_box_terms_or_only_the_positive_objectness(weighting, scaled):
    loss = make_loss(iou_loss=True, guided_anchoring=True, label_smoothing=True, mixup_weighting=weighting)
    rows = [(0, 1, BOX, 1.0), (1, 0, box(90, 30, 20, 25), 1.0)]
    half = [(img, label, xyxy, 0.5) for img, label, xyxy, _ in rows]
    levels = make_levels(guided=True, seed=1)
    _, full_parts = loss(levels, targets(*rows))
    _, half_parts = loss(levels, targets(*half))
    for name in ("xy", "wh", "cls", "iou", "shape"):
        expected = full_parts[name] / 2 if scaled else full_parts[name]
        assert half_parts[name] == pytest.approx(expected, rel=1e-5), name
    # Objectness: only the two positives (level 1 slot 1 cell (3, 2); level 2 slot 1 cell
    # (11, 3)) are weighted, the negatives are not.
    positive_logits = torch.stack((levels[1].pred[0, 1, 2, 3, 4], levels[2].pred[1, 1, 3, 11, 4])).detach()
    positive_bce = float(torch.nn.functional.softplus(-positive_logits).sum())
    assert full_parts["obj"] - half_parts["obj"] == pytest.approx(0.5 * positive_bce / 2, abs=5e-4)  # float32 sums


@pytest.mark.parametrize("guided", [False, True])
def test_empty_targets_give_a_finite_objectness_only_loss(guided):
    loss = make_loss(iou_loss=True, label_smoothing=True, guided_anchoring=guided)
    levels = make_levels(guided=guided, seed=2)
    total, parts = loss(levels, torch.zeros(0, 7))
    assert torch.isfinite(total)
    assert parts["obj"] > 0
    assert all(parts[name] == 0.0 for name in ("xy", "wh", "cls", "iou", "shape"))
    total.backward()
    assert all(torch.isfinite(level.pred.grad).all() for level in levels)


def test_images_without_boxes_next_to_images_with_boxes():
    loss = make_loss(iou_loss=True, guided_anchoring=True)
    levels = make_levels(batch=3, guided=True, seed=3)
    total, parts = loss(levels, targets((1, 0, BOX, 1.0)))
    assert torch.isfinite(total) and all(math.isfinite(v) for v in parts.values())
    total.backward()
    # Images 0 and 2 only get objectness gradients (all negatives).
    for level in levels:
        assert level.pred.grad[[0, 2]][..., [0, 1, 2, 3, 5, 6, 7]].abs().sum() == 0
        assert level.pred.grad[[0, 2]][..., 4].abs().sum() > 0


def test_giou_switch_changes_only_the_iou_part():
    levels = make_levels(seed=4)
    rows = targets((0, 1, BOX, 1.0), (1, 2, box(100, 100, 30, 60), 1.0))
    _, without = make_loss(iou_loss=False)(levels, rows)
    _, with_iou = make_loss(iou_loss=True)(levels, rows)
    assert without["iou"] == 0.0 and with_iou["iou"] > 0
    for name in ("xy", "wh", "obj", "cls"):
        assert with_iou[name] == pytest.approx(without[name], rel=1e-6)


def test_giou_is_zero_for_a_perfect_box_and_grows_with_the_error():
    levels = make_levels(batch=1)
    offset = 56 / 16 - 3, 40 / 16 - 2  # BOX centre within its cell (3, 2)
    with torch.no_grad():
        levels[1].pred[0, 1, 2, 3, 0:2] = torch.logit(torch.tensor(offset))
    _, perfect = make_loss(iou_loss=True)(levels, targets((0, 0, BOX, 1.0)))
    with torch.no_grad():
        levels[1].pred[0, 1, 2, 3, 2] = 0.5  # 65% too wide
    _, wide = make_loss(iou_loss=True)(levels, targets((0, 0, BOX, 1.0)))
    assert perfect["iou"] == pytest.approx(0.0, abs=1e-5)
    assert wide["iou"] > 0.1


def test_shape_loss_and_anchor_free_positive():
    loss = make_loss(guided_anchoring=True)
    levels = make_levels(batch=1, guided=True)
    _, parts = loss(levels, targets((0, 0, BOX, 1.0)))
    # shape_pred = 0: the prior slot's target is log(1) = 0, the anchor-free one log(box / 64).
    assert parts["shape"] == pytest.approx(abs(math.log(62 / 64)) + abs(math.log(45 / 64)), rel=1e-5)

    # A 40x40 box is best matched by prior 4 too (IoU 0.57); an anchor-free shape that fits it
    # better takes it, and its objectness becomes the positive.
    square = box(56, 40, 40, 40)
    levels = make_levels(batch=1, guided=True)
    _, parts = loss(levels, targets((0, 0, square, 1.0)))
    assert parts["shape"] == pytest.approx(
        abs(math.log(40 / 62)) + abs(math.log(40 / 45)) + 2 * abs(math.log(40 / 64)), rel=1e-5
    )
    with torch.no_grad():
        levels[1].shape_pred[0, 3, 2, 3] = math.log(40 / 64)
    levels[1] = guided_level(1, levels[1].pred, levels[1].shape_pred)  # anchors: 40x40 there
    total, parts = loss(levels, targets((0, 0, square, 1.0)))
    total.backward()
    obj_grad = levels[1].pred.grad[0, :, 2, 3, 4]
    assert obj_grad[3] < 0 and obj_grad[1] > 0  # slot 3 pushed up, the prior slot down
    # The anchor-free shape term is now zero: only the prior slot's remains.
    assert parts["shape"] == pytest.approx(abs(math.log(40 / 62)) + abs(math.log(40 / 45)), rel=1e-5)


def test_mismatched_levels_are_rejected():
    with pytest.raises(ValueError, match="slots"):
        make_loss(guided_anchoring=True)(make_levels(guided=False), torch.zeros(0, 7))
    with pytest.raises(ValueError, match="strides"):
        make_loss()(make_levels()[::-1], torch.zeros(0, 7))


@pytest.mark.slow
def test_tiny_model_overfits_one_batch_and_its_output_postprocesses():
    """The real tiny model (width 0.25, depth 0.125, guided anchoring, ASFF) learns a fixed batch
    with this loss, and its detections then find the boxes."""
    from torchvision.ops import box_iou

    from asffbench.build import build_yolov3
    from asffbench.engine.postprocess import postprocess

    torch.manual_seed(0)
    model = build_yolov3(fusion="asff", width=0.25, depth=0.125, num_classes=NUM_CLASSES, guided_anchoring=True)
    loss = YOLOLoss(NUM_CLASSES, COCO_ANCHORS, iou_loss=True, label_smoothing=True, guided_anchoring=True)
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    rows = targets(
        (0, 0, [4, 6, 30, 40], 1.0), (0, 1, [36, 40, 60, 58], 1.0),
        (1, 2, [20, 20, 32, 36], 1.0), (1, 1, [5, 10, 55, 60], 0.6),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    history = []
    for _ in range(25):
        total, parts = loss(model(images).levels, rows)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append(parts["total"])
    assert all(math.isfinite(value) for value in history)
    assert history[-1] < 0.5 * history[0], history

    with torch.no_grad():
        detections = postprocess(model(images).levels, score_thresh=0.05)
    assert len(detections) == 2
    for image, found in enumerate(detections):
        truth = rows[rows[:, 0] == image]
        best = found["boxes"][:1]
        overlap = box_iou(best, truth[:, 2:6])[0]
        match = int(overlap.argmax())
        # The most confident detection sits on a ground-truth box, with its label.
        assert float(overlap[match]) > 0.5
        assert int(found["labels"][0]) == int(truth[match, 1])
