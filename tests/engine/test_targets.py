"""Target assignment on hand-built boxes: level, slot and cell, and the anchor-free choice."""

from __future__ import annotations

import pytest
import torch

from asffbench.config.schema import COCO_ANCHORS
from asffbench.engine.targets import ANCHOR_FREE_SLOT, assign_targets, priors_per_level
from asffbench.models.outputs import LevelOutput

STRIDES = (32, 16, 8)
PRIORS = priors_per_level(COCO_ANCHORS, STRIDES)


def make_levels(batch: int, size: int, guided: bool, num_classes: int = 2) -> list[LevelOutput]:
    """Zero predictions whose anchors are the priors (and 4 * stride for the anchor-free slot)."""
    levels = []
    for index, stride in enumerate(STRIDES):
        cells = size // stride
        bases = PRIORS[index]
        if guided:
            bases = torch.cat((bases, torch.full((1, 2), 4.0 * stride)))
        slots = bases.shape[0]
        anchors = bases[None, :, None, None, :].expand(batch, slots, cells, cells, 2).clone()
        pred = torch.zeros(batch, slots, cells, cells, 5 + num_classes)
        shape_pred = torch.zeros(batch, slots, cells, cells, 2) if guided else None
        levels.append(LevelOutput(pred, anchors, shape_pred, stride))
    return levels


def box(cx: float, cy: float, w: float, h: float) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def test_priors_per_level_puts_small_priors_on_the_finest_stride():
    assert PRIORS.shape == (3, 3, 2)
    assert PRIORS[0].tolist() == [[116, 90], [156, 198], [373, 326]]
    assert PRIORS[1].tolist() == [[30, 61], [62, 45], [59, 119]]
    assert PRIORS[2].tolist() == [[10, 13], [16, 30], [33, 23]]
    # The order of the strides decides, not the position.
    assert priors_per_level(COCO_ANCHORS, (8, 16, 32))[0].tolist() == [[10, 13], [16, 30], [33, 23]]


def test_priors_per_level_rejects_bad_shapes():
    with pytest.raises(ValueError):
        priors_per_level(COCO_ANCHORS[:8], STRIDES)
    with pytest.raises(ValueError):
        priors_per_level(COCO_ANCHORS, (32, 32, 8))


def test_each_box_goes_to_its_best_prior_at_the_cell_of_its_centre():
    levels = make_levels(batch=2, size=416, guided=False)
    boxes = torch.tensor([
        box(100, 60, 62, 45),  # prior 4: stride 16, slot 1, cell (6, 3)
        box(37, 21, 11, 12),  # closest to prior 0 (10x13): stride 8, slot 0, cell (4, 2)
        box(300, 200, 350, 300),  # closest to prior 8 (373x326): stride 32, slot 2, cell (9, 6)
        box(415.9, 0.1, 14, 30),  # centre in the last column, first row: prior 1, cell (51, 0)
    ])
    image_index = torch.tensor([0, 1, 1, 0])
    got = assign_targets(levels, image_index, boxes, PRIORS, guided_anchoring=False)
    assert got.level.tolist() == [1, 2, 0, 2]
    assert got.slot.tolist() == [1, 0, 2, 1]
    assert got.prior_slot.tolist() == got.slot.tolist()
    assert got.cell_x.tolist() == [6, 4, 9, 51]
    assert got.cell_y.tolist() == [3, 2, 6, 0]
    assert got.image.tolist() == [0, 1, 1, 0]


def test_centres_on_the_border_are_clamped_into_the_grid():
    levels = make_levels(batch=1, size=256, guided=False)
    boxes = torch.tensor([[230.0, 230.0, 256.0, 262.0]])  # centre (243, 246): fine; bottom past 256
    boxes_out = torch.tensor([[240.0, 250.0, 272.0, 280.0]])  # centre (256, 265) is outside
    inside = assign_targets(levels, torch.tensor([0]), boxes, PRIORS, guided_anchoring=False)
    outside = assign_targets(levels, torch.tensor([0]), boxes_out, PRIORS, guided_anchoring=False)
    cells = 256 // STRIDES[int(outside.level)]
    assert int(outside.cell_x) == cells - 1 and int(outside.cell_y) == cells - 1
    assert int(inside.cell_x) == 243 // STRIDES[int(inside.level)]


def test_anchor_free_slot_takes_the_box_when_its_shape_fits_better():
    levels = make_levels(batch=2, size=256, guided=True)
    # 40x40 is best matched by prior 4 (62x45, IoU 0.57) on stride 16; the anchor-free slot of
    # stride 16 has base 64x64 (IoU 0.39): the prior wins by default.
    boxes = torch.tensor([box(100, 60, 40, 40), box(100, 60, 40, 40), box(200, 200, 40, 40)])
    image_index = torch.tensor([0, 1, 0])
    before = assign_targets(levels, image_index, boxes, PRIORS, guided_anchoring=True)
    assert before.level.tolist() == [1, 1, 1]
    assert before.slot.tolist() == [1, 1, 1]
    # Image 0's anchor-free prediction at cell (6, 3) now has the box's exact shape.
    levels[1].anchors[0, ANCHOR_FREE_SLOT, 3, 6] = torch.tensor([40.0, 40.0])
    after = assign_targets(levels, image_index, boxes, PRIORS, guided_anchoring=True)
    assert after.slot.tolist() == [ANCHOR_FREE_SLOT, 1, 1]  # other image and other cell unchanged
    assert after.prior_slot.tolist() == [1, 1, 1]
    # Without guided anchoring the anchor-free shape is never consulted.
    plain = assign_targets(levels, image_index, boxes, PRIORS, guided_anchoring=False)
    assert plain.slot.tolist() == [1, 1, 1]


def test_no_boxes_gives_an_empty_assignment():
    levels = make_levels(batch=2, size=128, guided=True)
    got = assign_targets(levels, torch.zeros(0, dtype=torch.long), torch.zeros(0, 4), PRIORS, True)
    assert got.level.numel() == 0 and got.slot.numel() == 0 and got.cell_x.numel() == 0
