"""Pinned parameter counts of the full-size presets (width 1, depth 1, 80 classes, guided anchoring).

How the numbers were derived (by hand, then confirmed by the build):

backbone, Darknet-53 (52 conv units; conv weights + BN weight and bias per channel):
  conv weights: stem 3*32*9 = 864; per stage the s2 conv c_in*c*9 plus per block c*c/2 + c/2*c*9:
    64: 18432 + 1*20480;  128: 73728 + 2*81920;  256: 294912 + 8*327680;
    512: 1179648 + 8*1310720;  1024: 4718592 + 4*5242880          -> 40,549,216
  BN channels: 32 + (64+96) + (128+2*192) + (256+8*384) + (512+8*768) + (1024+4*1536) = 17,856
  -> 40,549,216 + 2*17,856 = 40,584,928
  (a darknet file holds 40,549,216 + 4*17,856 = 40,620,640 float32 values for these 52 units)
neck (SPP and the three paths, see the facts file): 16,054,784
  stride 32: res pair 1024 (5,242,880+3,072), 1x1 1024->512, 1x1 2048->512, 3x3 512->1024,
             1x1 1024->512: 12,066,816
  stride 16: lateral 1x1 512->256 (131,584) + path 1x1 768->256, 3x3 256->512, res pair 512,
             1x1 512->256 (2,821,632)
  stride 8:  lateral 1x1 256->128 (33,024) + path 1x1 384->128, 3x3 128->256, res pair 256,
             1x1 256->128, 3x3 128->256 (1,001,728)
fusion:
  none: 3x3 512->1024 (4,718,592+2,048) + 3x3 256->512 (1,179,648+1,024) = 5,901,312
  resize + expand of every resize fusion: level 0: two 3x3 s2 256->512 (2 x 1,180,672) + expand
    4,720,640; level 1: 1x1 512->256 (131,584) + 3x3 s2 256->256 (590,336) + expand 1,180,672;
    level 2: 1x1 512->256 (131,584) + expand 3x3 256->256 (590,336)     -> 9,706,496
  asff weights with compress_c c, level width w: 3*(w*c + 2c) + (3c*3 + 3):
    c=16: 24,819 + 12,531 + 12,531 = 49,881   -> asff 9,756,377
    c=8:  12,411 + 6,267 + 6,267 = 24,945     -> asff_star 9,731,441
head, guided anchoring, 4 slots, 85 outputs each, level width w = 1024 / 512 / 256:
  shape 1x1 w->8 (+8), offsets grouped 1x1 8->72 (144+72), deformable 3x3 w->w (+w bias, as in
  the reference), prediction 1x1 w->340 (+340): 9,795,124 + 2,538,548 + 679,732 = 13,013,404
  RFB (ASFF*), q = w/4: w*w + 61*q*q + 9*q: 5,048,576 + 1,262,720 + 315,968 = 6,627,264
  -> asff_star head 19,640,668
totals: none 75,554,428; asff 79,409,493; asff_star 86,011,821: the reference implementation's
counts (tests/fixtures/reference-checkpoints.md), checked tensor by tensor in tests/weights.
"""

import pytest
import torch

from asffbench.build import build_yolov3

PINNED = {
    "none": {"backbone": 40_584_928, "neck": 16_054_784, "fusion": 5_901_312, "head": 13_013_404},
    "asff": {"backbone": 40_584_928, "neck": 16_054_784, "fusion": 9_756_377, "head": 13_013_404},
    "asff_star": {"backbone": 40_584_928, "neck": 16_054_784, "fusion": 9_731_441, "head": 19_640_668},
}
TOTALS = {"none": 75_554_428, "asff": 79_409_493, "asff_star": 86_011_821}


@pytest.mark.parametrize("fusion", sorted(PINNED))
def test_full_size_parameter_counts(fusion):
    # The meta device allocates nothing: counting an 86M-parameter model takes milliseconds.
    with torch.device("meta"):
        model = build_yolov3(fusion=fusion)  # the presets' defaults: compress_c 16, or 8 for asff_star
    by_part = {part: sum(p.numel() for p in getattr(model, part).parameters()) for part in PINNED[fusion]}
    assert by_part == PINNED[fusion]
    assert sum(p.numel() for p in model.parameters()) == TOTALS[fusion] == sum(by_part.values())


def test_darknet_value_count_matches_the_derivation():
    with torch.device("meta"):
        model = build_yolov3(fusion="none")
    bn_channels = sum(m.num_features for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))
    conv_weights = sum(m.weight.numel() for m in model.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    assert (bn_channels, conv_weights) == (17_856, 40_549_216)
    assert conv_weights + 4 * bn_channels == 40_620_640
