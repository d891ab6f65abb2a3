"""The anchor-free loss's box and DFL terms on the foreground's rows only: equal to the dense form
over every anchor point (values and gradients), and the fixed row count always holds the whole
foreground."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import complete_box_iou_loss

from asffbench.engine.anchor_free_coding import (
    boxes_to_distances,
    distances_to_boxes,
    expected_distances,
    flatten_levels,
)
from asffbench.engine.anchor_free_loss import (
    AnchorFreeLoss,
    distribution_focal_loss,
    foreground_rows,
    second_stride,
)
from asffbench.engine.task_aligned_assigner import TaskAlignedAssigner, power
from tests.engine.anchor_free_oracle import random_levels, random_targets


def dense_loss(loss: AnchorFreeLoss, levels, targets) -> tuple[torch.Tensor, dict[str, float]]:
    """The form before the foreground's rows: every term over all B x A points, the background's
    weight zero and its target box the prediction itself."""
    flat = flatten_levels(levels)
    batch = flat.class_logits.shape[0]
    assigned = loss.assign(flat, targets, second_stride(levels))
    pred_boxes = distances_to_boxes(flat.points, expected_distances(flat.box_logits))
    target_boxes = torch.where(assigned.foreground[..., None], assigned.boxes / flat.strides, pred_boxes.detach())
    weight = assigned.scores.sum(dim=-1)
    normaliser = assigned.scores.sum().clamp(min=1)
    dfl = distribution_focal_loss(flat.box_logits, boxes_to_distances(flat.points, target_boxes))
    parts = torch.stack((
        (complete_box_iou_loss(pred_boxes, target_boxes) * weight).sum() / normaliser,
        F.binary_cross_entropy_with_logits(flat.class_logits, assigned.scores, reduction="sum") / normaliser,
        (dfl * weight).sum() / normaliser,
    )) * torch.tensor(loss.gains)
    return parts.sum() * batch, dict(zip(("box", "cls", "dfl"), parts.tolist()))


@pytest.mark.parametrize("batch, with_boxes", [(4, True), (3, False)])
def test_foreground_rows_equal_the_dense_form_in_value_and_gradient(batch, with_boxes):
    """Image 0 scattered boxes and one over its first point (the one the padding rows repeat),
    image 1 none, image 2 a crowd (so the others are padded), image 3 a few; or a batch without
    any box."""
    levels = random_levels(batch, 4, 256, seed=batch, requires_grad=True, class_bias=-1.0)
    corner = torch.tensor([[0.0, 1.0, 0.0, 0.0, 64.0, 64.0, 1.0]])
    with torch.no_grad():  # point 0 (stride 32, cell centre 0.5, 0.5) predicts it: distances 0.5, 0.5, 1.5, 1.5
        first = levels[0].pred[0, :, 0, 0]
        first[:64] = -10.0
        first[torch.tensor([0, 1, 16, 17, 33, 34, 49, 50])] = 10.0
        first[64 + 1] = 5.0
    targets = torch.cat((corner, random_targets(batch, 4, 256, seed=5))) if with_boxes else torch.zeros((0, 7))
    loss = AnchorFreeLoss(4)
    total, parts = loss(levels, targets)
    dense_total, dense_parts = dense_loss(loss, levels, targets)
    if with_boxes:
        assert dense_parts["box"] > 0 and dense_parts["dfl"] > 0
        flat = flatten_levels(levels)
        foreground = loss.assign(flat, targets, second_stride(levels)).foreground
        assert foreground[0, 0] and foreground.sum() < len(targets) * 10  # padding rows repeat a positive
    for name, value in dense_parts.items():
        assert parts[name] == pytest.approx(value, rel=1e-5, abs=1e-7), name
    ours = torch.autograd.grad(total, [level.pred for level in levels])
    dense = torch.autograd.grad(dense_total, [level.pred for level in levels])
    for mine, theirs in zip(ours, dense):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-7)


def crowded_case(seed: int, batch: int, truths: int, side: int, num_classes: int = 3):
    """Many overlapping ground truths, in images drawn at random (the last image none), over a
    small grid (points every 8 px)."""
    generator = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(side) * 8 + 4.0, torch.arange(side) * 8 + 4.0, indexing="ij")
    points = torch.stack((xs, ys), dim=-1).reshape(-1, 2)
    sizes = torch.rand(batch, len(points), 4, generator=generator) * 12 + 1
    pred_boxes = torch.cat((points - sizes[..., :2], points + sizes[..., 2:]), dim=-1)
    scores = torch.rand(batch, len(points), num_classes, generator=generator)
    corner = torch.rand(truths, 2, generator=generator) * side * 4
    gt_boxes = torch.cat((corner, corner + torch.rand(truths, 2, generator=generator) * side * 6 + 2), dim=-1)
    image = torch.randint(0, batch - 1, (truths,), generator=generator)  # the last image has none
    labels = torch.randint(0, num_classes, (truths,), generator=generator)
    return scores, pred_boxes, points, image, labels, gt_boxes


@pytest.mark.parametrize("topk", [1, 3, 10])
def test_the_row_bound_holds_the_whole_foreground(topk):
    """M x topk rows (M real ground truths) always hold the foreground, also where the grid has
    fewer points than that bound (the rows are then capped at B x A)."""
    for seed in range(12):
        side = 3 if seed % 3 == 0 else 8  # 9 points: fewer than M x topk
        case = crowded_case(seed, 3, 12, side)
        assigned = TaskAlignedAssigner(3, topk=topk, min_side=8.0)(*case)
        bound = len(case[-1]) * topk
        assert int(assigned.foreground.sum()) <= bound
        rows = foreground_rows(assigned.foreground, bound)
        assert len(rows.real) == min(bound, assigned.foreground.numel())
        chosen = torch.zeros_like(assigned.foreground)
        chosen[rows.image[rows.real], rows.point[rows.real]] = True
        assert torch.equal(chosen, assigned.foreground)
        assert int(rows.real.sum()) == int(assigned.foreground.sum())
        assert not rows.real[int(rows.real.sum()):].any()  # the real rows first, then padding


def test_whole_powers_equal_torch_pow_to_rounding():
    values = torch.rand(1000, generator=torch.Generator().manual_seed(0))
    for exponent in (1.0, 2.0, 3.0, 5.0, 6.0, 8.0):
        torch.testing.assert_close(power(values, exponent), values.pow(exponent), rtol=1e-6, atol=1e-30)
    assert torch.equal(power(values, 2.5), values.pow(2.5))


@pytest.mark.cuda  # the host syncs are a GPU matter (scripts/gpu-check.sh runs it)
def test_the_loss_terms_never_wait_for_the_device():
    levels = [type(level)(level.pred.cuda().requires_grad_(True), level.stride, level.reg_max)
              for level in random_levels(3, 4, 256, seed=3)]
    targets = random_targets(3, 4, 256, seed=5).cuda()
    loss = AnchorFreeLoss(4)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        parts = loss.gained_parts(levels, targets)
        parts.sum().backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(parts).all()


def test_the_ground_truths_may_come_in_any_order_of_images():
    """Rows interleaved across images (each image's own order kept, which decides ties) give the
    same assignment, the kept ground truth named by its new row."""
    scores, pred_boxes, points, image, labels, gt_boxes = crowded_case(2, 3, 12, 8)
    by_image = torch.sort(image, stable=True).indices  # images in turn, each in its own order
    assigner = TaskAlignedAssigner(3, topk=4, min_side=8.0)
    mixed = assigner(scores, pred_boxes, points, image, labels, gt_boxes)
    grouped = assigner(scores, pred_boxes, points, image[by_image], labels[by_image], gt_boxes[by_image])
    assert not torch.equal(by_image, torch.arange(len(image)))  # the case does interleave them
    assert grouped.foreground.sum() > 20
    for name in ("foreground", "labels", "boxes", "scores"):
        assert torch.equal(getattr(mixed, name), getattr(grouped, name)), name
    assert torch.equal(mixed.gt_index[mixed.foreground], by_image[grouped.gt_index][grouped.foreground])
