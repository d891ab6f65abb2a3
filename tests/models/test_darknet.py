import torch

from asffbench.models import Darknet53
from asffbench.models.layers import ConvBNAct, scale_channels
from asffbench.weights.pretrained import conv_units


def test_full_size_is_the_darknet53_layout():
    backbone = Darknet53(width=1.0, depth=1.0)
    units = conv_units(backbone)
    # Stem + 5 downsampling convs + 2 convs in each of 1+2+8+8+4 residual blocks.
    assert len(units) == 1 + 5 + 2 * (1 + 2 + 8 + 8 + 4) == 52
    assert [len(stage.blocks) for stage in backbone.stages] == [1, 2, 8, 8, 4]
    assert [stage.down.conv.out_channels for stage in backbone.stages] == [64, 128, 256, 512, 1024]
    assert units[0][1].conv.in_channels == 3 and units[0][1].conv.out_channels == 32
    assert backbone.out_channels == (256, 512, 1024)
    unit = units[1][1]
    assert unit.conv.bias is None and unit.conv.stride == (2, 2)
    assert isinstance(unit.act, torch.nn.LeakyReLU) and unit.act.negative_slope == 0.1


def test_multipliers_scale_widths_and_blocks():
    backbone = Darknet53(width=0.25, depth=0.125)
    assert [len(stage.blocks) for stage in backbone.stages] == [1, 1, 1, 1, 1]
    assert backbone.out_channels == (64, 128, 256)
    assert [len(s.blocks) for s in Darknet53(width=0.25, depth=0.5).stages] == [1, 1, 4, 4, 2]
    assert len([m for m in backbone.modules() if isinstance(m, ConvBNAct)]) == 1 + 5 + 2 * 5


def test_scale_channels_rounds_up_to_multiples_of_eight():
    assert scale_channels(1024, 1.0) == 1024
    assert scale_channels(32, 0.25) == 8
    assert scale_channels(32, 0.1) == 8  # never below the divisor
    assert scale_channels(100, 0.5) == 56


def test_taps_have_strides_8_16_32():
    backbone = Darknet53(width=0.25, depth=0.125).eval()
    taps = backbone(torch.randn(1, 3, 64, 96))
    assert [tuple(t.shape) for t in taps] == [(1, 64, 8, 12), (1, 128, 4, 6), (1, 256, 2, 3)]
