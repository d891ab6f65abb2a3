"""Each engine switch of `recipe=` (loss forms, smoothing, optimiser, LR schedule, post-processing)
does what its key says, on hand-built inputs; mixup weighting is in test_loss.py."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from asffbench.engine.optim import param_groups
from asffbench.engine.postprocess import postprocess
from asffbench.engine.schedule import build_scheduler
from test_loss import BOX, box, make_levels, make_loss, targets
from test_postprocess import place, silent_levels

SIZE_WEIGHT = 2 - 62 * 45 / 128**2  # of BOX at 128 px


def test_iou_squared_is_one_minus_iou_squared_and_differs_from_giou():
    levels = make_levels(batch=1)
    offset = 56 / 16 - 3, 40 / 16 - 2  # BOX centre within its cell (3, 2) of level 1
    with torch.no_grad():
        levels[1].pred[0, 1, 2, 3, 0:2] = torch.logit(torch.tensor(offset))
    _, perfect = make_loss(iou_loss=True, iou_loss_form="iou_squared")(levels, targets((0, 0, BOX, 1.0)))
    assert perfect["iou"] == pytest.approx(0.0, abs=1e-5)
    with torch.no_grad():
        levels[1].pred[0, 1, 2, 3, 2] = 0.5  # e^0.5 too wide, same centre: IoU = e^-0.5
    _, squared = make_loss(iou_loss=True, iou_loss_form="iou_squared")(levels, targets((0, 0, BOX, 1.0)))
    _, giou = make_loss(iou_loss=True, iou_loss_form="giou")(levels, targets((0, 0, BOX, 1.0)))
    assert squared["iou"] == pytest.approx((1 - math.exp(-1.0)) * SIZE_WEIGHT, rel=1e-4)
    assert giou["iou"] == pytest.approx((1 - math.exp(-0.5)) * SIZE_WEIGHT, rel=1e-4)  # no enclosing gap


def test_shape_loss_iou_squared_on_the_prior_and_the_anchor_free_slot():
    levels = make_levels(batch=1, guided=True)  # shape_pred 0: priors are the base sizes
    _, parts = make_loss(guided_anchoring=True, shape_loss_form="iou_squared")(levels, targets((0, 0, BOX, 1.0)))
    # Prior slot: 62x45 is the box itself (0); anchor-free: 64x64 against 62x45.
    assert parts["shape"] == pytest.approx(1 - (62 * 45 / 64**2) ** 2, rel=1e-5)
    _, l1 = make_loss(guided_anchoring=True)(levels, targets((0, 0, BOX, 1.0)))
    assert l1["shape"] == pytest.approx(abs(math.log(62 / 64)) + abs(math.log(45 / 64)), rel=1e-5)


def shape_grad(box_terms_train_shape: bool) -> tuple[torch.Tensor, dict]:
    levels = make_levels(batch=1, guided=True, seed=5)
    loss = make_loss(guided_anchoring=True, iou_loss=True, box_terms_train_shape=box_terms_train_shape)
    total, parts = loss(levels, targets((0, 0, BOX, 1.0)))
    total.backward()
    return levels[1].shape_pred.grad, parts


def test_box_terms_train_the_shape_branch_only_when_switched_on():
    detached, detached_parts = shape_grad(False)
    attached, attached_parts = shape_grad(True)
    assert attached_parts == pytest.approx(detached_parts, rel=1e-6)  # same values, other gradients
    assigned = (0, 1, 2, 3)  # BOX's slot and cell on level 1
    assert not torch.allclose(attached[assigned], detached[assigned])
    attached[assigned] = detached[assigned] = 0
    assert torch.allclose(attached, detached)  # nowhere else


def test_uncapped_label_smoothing_is_one_over_c():
    levels = make_levels(batch=2)
    total, _ = make_loss(label_smoothing=True, label_smoothing_max=None)(levels, targets((0, 1, BOX, 1.0)))
    total.backward()
    seen = 0.5 - 2 * levels[1].pred.grad[0, 1, 2, 3, 5:]  # BCE gradient at logit 0 -> target
    assert seen.tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 3], abs=1e-6)


def test_unknown_loss_forms_are_rejected():
    with pytest.raises(ValueError, match="iou_loss_form"):
        make_loss(iou_loss_form="diou")
    with pytest.raises(ValueError, match="mixup_weighting"):
        make_loss(mixup_weighting="none")


def test_weight_decay_on_norm_and_bias_when_switched_on():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, bias=True), nn.BatchNorm2d(4))
    filters, norm_and_bias = param_groups(net, 5e-4, decay_norm_and_bias=True)
    assert len(norm_and_bias["params"]) == 3  # conv bias, BN weight and bias
    assert filters["weight_decay"] == norm_and_bias["weight_decay"] == 5e-4
    assert param_groups(net, 5e-4)[1]["weight_decay"] == 0.0


def lrs(epochs: int = 10, **options) -> list[float]:
    optimizer = torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    scheduler = build_scheduler(
        optimizer, epochs=epochs, iters_per_epoch=10, cosine=True, base_lr=0.1, min_lr=0.001,
        step_milestones=[], **{"warmup_epochs": 2.0, **options},
    )
    values = []
    for _ in range(epochs * 10):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return values


def test_power4_warmup_is_the_reference_burn_in():
    values = lrs(warmup_form="power4")
    assert values[0] == 0.0
    assert values[10] == pytest.approx(0.1 * 0.5**4)
    assert values[5] == pytest.approx(0.1 * 0.25**4)
    assert values[20] == pytest.approx(0.1)
    assert lrs()[10] > 5 * values[10]  # linear is far higher half-way


def test_flat_phase_then_cosine_then_final_constant():
    values = lrs(flat_epochs=2, final_epochs=2)  # warm-up 0-19, flat 20-39, cosine 40-79, final 80-99
    assert values[20:40] == pytest.approx([0.1] * 20)
    assert values[60] == pytest.approx(0.001 + (0.1 - 0.001) * 0.5)  # half-way down the cosine
    assert values[80:] == pytest.approx([0.001] * 20)
    assert all(a >= b for a, b in zip(values[20:], values[21:]))


def test_phases_longer_than_the_run_are_cut_short():
    values = lrs(epochs=3, flat_epochs=15, final_epochs=30)
    assert values[20:] == pytest.approx([0.1] * 10)  # warm-up, then flat to the end
    assert all(math.isfinite(v) and v <= 0.1 for v in values)


def test_best_class_per_box_keeps_one_label():
    levels = silent_levels()
    place(levels[0], (0, 0, 0, 0), [2, 2, 30, 30], obj=0.9, classes={0: 0.5, 2: 0.8})
    (multi,) = postprocess(levels, score_thresh=0.01, multi_label=True)
    (best,) = postprocess(levels, score_thresh=0.01, multi_label=False)
    assert multi["labels"].tolist() == [2, 0]
    assert best["labels"].tolist() == [2] and best["scores"].tolist() == pytest.approx([0.72], abs=1e-5)


def test_max_det_zero_is_no_cap():
    levels = silent_levels(size=128)
    for x in range(4):
        for y in range(4):
            place(levels[0], (0, 0, y, x), [32 * x + 2, 32 * y + 2, 32 * x + 30, 32 * y + 30], 0.9, {0: 0.9})
    assert len(postprocess(levels, score_thresh=0.01, max_det=10)[0]["scores"]) == 10
    assert len(postprocess(levels, score_thresh=0.01, max_det=0)[0]["scores"]) == 16


# Two boxes in BOX's cell (3, 2) of level 1 with BOX's shape (slot 1), and one with prior 3's
# shape (30x61, slot 0): same cell, another slot.
SAME_SLOT = box(60, 36, 62, 45)
OTHER_SLOT = box(52, 44, 30, 61)


def parts_of(rows, guided: bool = False, **options) -> dict:
    levels = make_levels(batch=1, guided=guided, seed=3)
    _, parts = make_loss(iou_loss=True, label_smoothing=True, guided_anchoring=guided, **options)(levels, targets(*rows))
    return parts


@pytest.mark.parametrize("guided", [False, True])
def test_last_box_on_a_shared_prediction_is_the_only_one_that_trains_it(guided):
    first, last = (0, 0, BOX, 1.0), (0, 2, SAME_SLOT, 1.0)
    shared = parts_of([first, last], guided, shared_prediction="last_box")
    assert shared == pytest.approx(parts_of([last], guided), rel=1e-6)  # the first box is dropped
    assert parts_of([last, first], guided, shared_prediction="last_box") == pytest.approx(
        parts_of([first], guided), rel=1e-6)  # the order decides
    every = parts_of([first, last], guided)  # the default: both train it, their terms add up
    for name in ("xy", "wh", "cls", "iou"):
        assert every[name] == pytest.approx(parts_of([first], guided)[name] + parts_of([last], guided)[name], rel=1e-5)


def test_last_box_keeps_boxes_of_other_slots_but_shares_the_anchor_free_shape():
    first, last = (0, 0, OTHER_SLOT, 1.0), (0, 1, BOX, 1.0)
    shared = parts_of([first, last], True, shared_prediction="last_box")
    every = parts_of([first, last], True)
    for name in ("xy", "wh", "cls", "iou"):  # two predictions, one box each: nothing dropped
        assert shared[name] == pytest.approx(every[name], rel=1e-6)
    # Shape, l1_log at shape_pred 0 (seeded preds do not touch shape_pred): each box's own prior
    # slot, but only the last box at the cell's anchor-free slot (64x64 at stride 16).
    def l1(w, h, base_w, base_h):
        return abs(math.log(w / base_w)) + abs(math.log(h / base_h))

    prior_terms = l1(30, 61, 30, 61) + l1(62, 45, 62, 45)
    assert shared["shape"] == pytest.approx(prior_terms + l1(62, 45, 64, 64), rel=1e-5)
    assert every["shape"] == pytest.approx(prior_terms + l1(62, 45, 64, 64) + l1(30, 61, 64, 64), rel=1e-5)


def test_an_unknown_shared_prediction_rule_is_rejected():
    with pytest.raises(ValueError, match="shared_prediction"):
        make_loss(shared_prediction="first_box")
