import pytest
import torch

from asffbench.config.schema import COCO_ANCHORS
from asffbench.models.head import GuidedAnchorLevelHead, YOLOHead
from asffbench.models.head.prediction_slots import OBJECTNESS_PRIOR
from asffbench.models.layers import RFB
from asffbench.models.outputs import DetectorOutput, LevelOutput

WIDTHS = (32, 16, 8)
NUM_CLASSES = 3


def head_features(batch=2, size=2):
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(batch, c, size * 2**i, size * 2**i, generator=generator) for i, c in enumerate(WIDTHS)]


@pytest.mark.parametrize("guided", [False, True])
def test_level_outputs_have_the_contract_shapes(guided):
    head = YOLOHead(WIDTHS, NUM_CLASSES, COCO_ANCHORS, guided_anchoring=guided).eval()
    with torch.no_grad():
        levels = head(head_features())
    slots = 4 if guided else 3
    assert head.num_slots == slots and head.strides == (32, 16, 8)
    for index, (level, size) in enumerate(zip(levels, (2, 4, 8))):
        assert isinstance(level, LevelOutput)
        assert level.stride == (32, 16, 8)[index]
        assert tuple(level.pred.shape) == (2, slots, size, size, 5 + NUM_CLASSES)
        assert tuple(level.anchors.shape) == (2, slots, size, size, 2)
        if guided:
            assert tuple(level.shape_pred.shape) == (2, slots, size, size, 2)
        else:
            assert level.shape_pred is None


def test_plain_head_uses_the_coco_priors_largest_first():
    head = YOLOHead(WIDTHS, NUM_CLASSES, COCO_ANCHORS).eval()
    with torch.no_grad():
        levels = head(head_features())
    for level, first in zip(levels, (6, 3, 0)):
        expected = torch.tensor(COCO_ANCHORS[first : first + 3], dtype=torch.float32)
        torch.testing.assert_close(level.anchors[1, :, 1, 0], expected)
        assert torch.equal(level.anchors[0, :, 0, 0], level.anchors[1, :, -1, -1])


def test_guided_anchors_scale_the_priors_and_the_free_slot_by_the_shape():
    head = YOLOHead(WIDTHS, NUM_CLASSES, COCO_ANCHORS, guided_anchoring=True).eval()
    with torch.no_grad():
        levels = head(head_features())
    for level, first in zip(levels, (6, 3, 0)):
        base = torch.tensor(COCO_ANCHORS[first : first + 3] + [[4 * level.stride] * 2], dtype=torch.float32)
        expected = base.view(1, 4, 1, 1, 2) * level.shape_pred.exp()
        torch.testing.assert_close(level.anchors, expected)
        assert level.shape_pred.abs().max() > 0  # a real prediction, not the bare prior


@pytest.mark.parametrize("num_classes, class_prior", [(1, 0.5), (3, 1 / 3), (80, 1 / 80)])
def test_prediction_biases_start_at_the_priors(num_classes, class_prior):
    head = YOLOHead(WIDTHS, num_classes, COCO_ANCHORS, guided_anchoring=True).eval()
    with torch.no_grad():
        level = head(head_features())[0]
    assert abs(torch.sigmoid(level.pred[..., 4]).mean().item() - OBJECTNESS_PRIOR) < 0.002
    assert abs(torch.sigmoid(level.pred[..., 5:]).mean().item() - class_prior) < 0.01
    assert level.pred[..., :4].abs().max() < 1.0  # boxes start near their priors


def test_shape_branch_is_trained_only_through_its_own_output():
    head = GuidedAnchorLevelHead(16, NUM_CLASSES, COCO_ANCHORS[:3], stride=8)
    x = torch.randn(2, 16, 4, 4)
    out = head(x)
    # A loss on the class/box predictions and the anchors reaches neither the shape conv
    # (the adaption's input and the anchors are detached) ...
    (out.pred.pow(2).sum() + out.anchors.sum()).backward()
    assert head.shape.weight.grad is None
    assert head.adaption.offset.weight.grad is not None and head.adaption.deform.weight.grad is not None
    # ... while a loss on shape_pred does.
    head(x).shape_pred.sum().backward()
    assert head.shape.weight.grad is not None and head.shape.weight.grad.abs().sum() > 0


def test_adaption_uses_one_deformable_group_per_slot():
    head = GuidedAnchorLevelHead(16, NUM_CLASSES, COCO_ANCHORS[:3], stride=8)
    assert head.adaption.offset.groups == 4
    assert head.adaption.offset.out_channels == 4 * 2 * 9  # 4 offset groups of a 3x3 kernel
    assert head.adaption.deform.kernel_size == (3, 3)
    assert head.adaption.deform.bias is not None and head.adaption.deform.bias.shape == (16,)


def test_rfb_sits_before_the_adaption_and_keeps_the_width():
    head = YOLOHead(WIDTHS, NUM_CLASSES, COCO_ANCHORS, guided_anchoring=True, rfb=True)
    assert all(isinstance(level.adaption.rfb, RFB) for level in head.levels)
    rfb = RFB(16)
    dilations = [conv.dilation[0] for branch in rfb.branches for conv in branch if isinstance(conv, torch.nn.Conv2d)]
    assert max(dilations) == 3 and len(rfb.branches) == 4
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in rfb.modules())
    # As in the reference: convs only, biases on, nothing between them.
    assert all(isinstance(m, torch.nn.Conv2d) and m.bias is not None for branch in rfb.branches for m in branch)
    assert rfb(torch.randn(1, 16, 5, 5)).shape == (1, 16, 5, 5)


def test_detector_attributes_and_output(tiny_model, images):
    model = tiny_model(fusion="none", guided_anchoring=False).eval()
    assert model.strides == (32, 16, 8) and model.num_classes == 3
    with torch.no_grad():
        output = model(images)
    assert isinstance(output, DetectorOutput)
    assert [tuple(level.pred.shape) for level in output.levels] == [
        (2, 3, 2, 2, 8), (2, 3, 4, 4, 8), (2, 3, 8, 8, 8)
    ]
