"""The anchor-free loss against ultralytics' v8DetectionLoss (the oracle, a dev dependency), and
the task-aligned assigner on a case worked by hand."""

from __future__ import annotations

import pytest
import torch

from asffbench.engine.anchor_free_loss import AnchorFreeLoss
from asffbench.engine.task_aligned_assigner import TaskAlignedAssigner
from tests.engine.anchor_free_oracle import (
    ModelStandIn,
    random_levels,
    random_targets,
    ultralytics_batch,
    ultralytics_preds,
)


@pytest.fixture(scope="module")
def v8_loss():
    return pytest.importorskip("ultralytics.utils.loss").v8DetectionLoss


@pytest.mark.parametrize("num_classes, img_size, batch", [(80, 640, 4), (3, 320, 3), (3, 320, 2)])
def test_equals_ultralytics_loss_part_by_part_and_in_its_gradient(v8_loss, num_classes, img_size, batch):
    levels = random_levels(batch, num_classes, img_size, seed=img_size + num_classes, requires_grad=True)
    targets = random_targets(batch, num_classes, img_size, seed=num_classes)
    total, parts = AnchorFreeLoss(num_classes)(levels, targets)

    oracle = v8_loss(ModelStandIn(num_classes))
    oracle_total, oracle_parts = oracle(ultralytics_preds(levels), ultralytics_batch(targets, img_size))
    expected = {name.removesuffix("_loss"): float(value) for name, value in oracle_parts.items()}
    assert parts["box"] > 0 and parts["dfl"] > 0  # the batch has positives
    for name, value in expected.items():
        assert parts[name] == pytest.approx(value, rel=1e-4), name
    assert total.item() == pytest.approx(oracle_total.sum().item(), rel=1e-4)
    assert parts["total"] == pytest.approx(total.item())

    ours = torch.autograd.grad(total, [level.pred for level in levels])
    theirs = torch.autograd.grad(oracle_total.sum(), [level.pred for level in levels])
    for mine, oracle_grad in zip(ours, theirs):
        torch.testing.assert_close(mine, oracle_grad, rtol=1e-4, atol=1e-6)


def test_a_batch_without_boxes_trains_the_classes_to_background(v8_loss):
    levels = random_levels(2, 5, 320, seed=1, requires_grad=True)
    total, parts = AnchorFreeLoss(5)(levels, torch.zeros((0, 7)))
    oracle_total, oracle_parts = v8_loss(ModelStandIn(5))(ultralytics_preds(levels),
                                                           ultralytics_batch(torch.zeros((0, 7)), 320))
    assert parts["box"] == parts["dfl"] == 0.0
    assert parts["cls"] == pytest.approx(float(oracle_parts["cls_loss"]), rel=1e-4)
    total.backward()  # the box logits stay in the graph with zero gradient
    assert all(torch.isfinite(level.pred.grad).all() for level in levels)


def test_assigner_on_a_hand_made_case():
    """Four points on a line (x = 4, 12, 20, 28; y = 4), each predicting the 8 x 8 box around it;
    truth 0 = [0, 0, 16, 8] (class 1) holds points 0 and 1, truth 1 = [8, 0, 32, 8] (class 0)
    points 1, 2, 3; topk 3.

    CIoU by hand (IoU - centre distance^2 / enclosing diagonal^2 - aspect term): truth 0 with
    points 0, 1: 0.5 - 16/320 - 0.003248 = 0.446752; truth 1 with points 1, 3: 1/3 - 64/640 -
    0.010070 = 0.223264, with point 2: 1/3 - 0.010070 = 0.323264. Metric = score^0.5 x CIoU^6.
    Point 1 is in both truths' top 3: it keeps truth 0 (CIoU 0.4468 > 0.2233). Target scores =
    metric x the truth's best CIoU / its best metric: truth 0: 0.446752, 0.446752 x sqrt(0.4 /
    0.9) = 0.297835; truth 1: 0.323264, 0.323264 x (0.6^0.5 x 0.223264^6) / (0.5^0.5 x
    0.323264^6) = 0.038434.
    """
    points = torch.tensor([[4.0, 4.0], [12.0, 4.0], [20.0, 4.0], [28.0, 4.0]])
    pred_boxes = torch.cat((points - 4, points + 4), dim=1)[None]
    scores = torch.tensor([[[0.1, 0.9], [0.2, 0.4], [0.5, 0.3], [0.6, 0.1]]])
    gt_boxes = torch.tensor([[0.0, 0.0, 16.0, 8.0], [8.0, 0.0, 32.0, 8.0]])
    assigner = TaskAlignedAssigner(num_classes=2, topk=3, alpha=0.5, beta=6.0, min_side=8.0)
    result = assigner(scores, pred_boxes, points, torch.tensor([0, 0]), torch.tensor([1, 0]), gt_boxes)

    assert result.foreground.tolist() == [[True, True, True, True]]
    assert result.gt_index.tolist() == [[0, 0, 1, 1]]
    assert result.labels.tolist() == [[1, 1, 0, 0]]
    assert torch.equal(result.boxes[0], gt_boxes[[0, 0, 1, 1]])
    expected = torch.tensor([[0.0, 0.446752], [0.0, 0.297835], [0.323264, 0.0], [0.038434, 0.0]])
    torch.testing.assert_close(result.scores[0], expected, rtol=1e-4, atol=1e-7)


def test_assigner_floors_small_truths_at_min_side():
    """A 4 x 4 truth between points holds none of them; floored at 16 px it holds the two
    nearest (the rest of the top 10 falls outside and is dropped)."""
    points = torch.tensor([[4.0, 4.0], [12.0, 4.0], [28.0, 4.0]])
    pred_boxes = torch.cat((points - 4, points + 4), dim=1)[None]
    scores = torch.full((1, 3, 1), 0.5)
    gt = torch.tensor([[6.0, 2.0, 10.0, 6.0]])
    image, label = torch.tensor([0]), torch.tensor([0])
    floored = TaskAlignedAssigner(num_classes=1, min_side=16.0)(scores, pred_boxes, points, image, label, gt)
    assert floored.foreground.tolist() == [[True, True, False]]
    exact = TaskAlignedAssigner(num_classes=1, min_side=0.0)(scores, pred_boxes, points, image, label, gt)
    assert not exact.foreground.any()


def test_assigner_equals_ultralytics_on_random_predictions():
    tal = pytest.importorskip("ultralytics.utils.tal")
    generator = torch.Generator().manual_seed(3)
    batch, num_points, num_classes = 3, 400, 4
    side = 20
    ys, xs = torch.meshgrid(torch.arange(side) * 8 + 4.0, torch.arange(side) * 8 + 4.0, indexing="ij")
    points = torch.stack((xs, ys), dim=-1).reshape(-1, 2)
    sizes = torch.rand(batch, num_points, 4, generator=generator) * 30 + 2
    pred_boxes = torch.cat((points - sizes[..., :2], points + sizes[..., 2:]), dim=-1)
    scores = torch.rand(batch, num_points, num_classes, generator=generator)
    corner = torch.rand(batch, 5, 2, generator=generator) * 120
    gt_boxes = torch.cat((corner, corner + torch.rand(batch, 5, 2, generator=generator) * 60 + 4), dim=-1)
    gt_labels = torch.randint(0, num_classes, (batch, 5), generator=generator)
    valid = torch.tensor([[True] * 5, [True, True, False, False, False], [False] * 5])
    gt_boxes = gt_boxes * valid[..., None]

    image, slot = valid.nonzero(as_tuple=True)  # ours takes the real ground truths as rows
    ours = TaskAlignedAssigner(num_classes)(scores, pred_boxes, points, image, gt_labels[image, slot],
                                            gt_boxes[image, slot])
    oracle = tal.TaskAlignedAssigner(topk=10, num_classes=num_classes, alpha=0.5, beta=6.0, stride=[8, 16, 32])
    labels, boxes, target_scores, foreground, gt_index = oracle(
        scores, pred_boxes, points, gt_labels[..., None].float(), gt_boxes, valid[..., None].float())
    assert foreground.sum() > 10
    assert torch.equal(ours.foreground, foreground)
    assert torch.equal(slot[ours.gt_index][foreground], gt_index[foreground])
    assert torch.equal(ours.labels[foreground], labels[foreground])
    torch.testing.assert_close(ours.boxes[foreground], boxes[foreground])
    torch.testing.assert_close(ours.scores, target_scores.float(), rtol=1e-4, atol=1e-7)
