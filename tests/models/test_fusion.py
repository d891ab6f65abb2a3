import pytest
import torch
import torch.nn.functional as F

from asffbench.models import FUSIONS
from asffbench.models.fusion import ASFF, FPNFusion, FusionOptions
from asffbench.models.fusion.resize import Downsample, Keep, LevelResize, Upsample

LEVEL_WIDTHS = (32, 16, 16)  # a small stand-in for the neck's 512 / 256 / 256
HEAD_WIDTHS = (64, 32, 16)


def level_features(batch=2, size=4, widths=LEVEL_WIDTHS, seed=0):
    """Neck-like features: stride 32, 16, 8 maps of a (32 * size) px input."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, size * 2**i, size * 2**i, generator=generator) for i, c in enumerate(widths)]


def loss_of(output):
    total = 0.0
    for level in output.levels:
        total = total + level.pred.pow(2).mean()
        if level.shape_pred is not None:
            total = total + level.shape_pred.pow(2).mean()
    return total


@pytest.mark.parametrize("compress_c", [8, 16])
@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
@pytest.mark.parametrize("fusion", FUSIONS.names())
def test_every_fusion_runs_forward_and_backward(tiny_model, images, fusion, upsample, compress_c):
    model = tiny_model(fusion=fusion, upsample=upsample, compress_c=compress_c).train()
    output = model(images)
    assert [level.stride for level in output.levels] == [32, 16, 8]
    assert [tuple(level.pred.shape[2:4]) for level in output.levels] == [(2, 2), (4, 4), (8, 8)]
    assert output.fusion_weights is None  # not asked for
    loss_of(output).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name


@pytest.mark.parametrize("fusion", FUSIONS.names())
def test_every_fusion_runs_without_guided_anchoring(tiny_model, images, fusion):
    model = tiny_model(fusion=fusion, guided_anchoring=False).train()
    output = model(images)
    assert all(level.shape_pred is None and level.pred.shape[1] == 3 for level in output.levels)
    loss_of(output).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


def test_resize_stage_follows_the_asff_recipe():
    # Level 0 (stride 32): level 1 down x2 by a strided conv, level 2 down x4 by max-pool + conv.
    level0 = LevelResize(0, (512, 256, 256), "nearest")
    keep, down2, down4 = level0.resizers
    assert isinstance(keep, Keep) and isinstance(down2, Downsample) and isinstance(down4, Downsample)
    assert isinstance(down2.pool, torch.nn.Identity) and isinstance(down4.pool, torch.nn.MaxPool2d)
    assert down4.conv.conv.stride == (2, 2) and down4.conv.conv.out_channels == 512
    # Level 2 (stride 8): level 0 is compressed 512 -> 256 then upsampled; level 1 (256) only upsampled.
    up4, up2, _ = LevelResize(2, (512, 256, 256), "bilinear").resizers
    assert isinstance(up4, Upsample) and up4.compress.conv.out_channels == 256
    assert isinstance(up2, Upsample) and isinstance(up2.compress, torch.nn.Identity)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_mode_is_used(mode):
    up = Upsample(4, 4, mode)  # same width: no conv, only the interpolation
    x = torch.arange(16.0).view(1, 4, 2, 2)
    expected = F.interpolate(x, size=(4, 4), mode=mode, **({} if mode == "nearest" else {"align_corners": False}))
    torch.testing.assert_close(up(x, (4, 4)), expected)
    assert not torch.equal(
        Upsample(4, 4, "nearest")(x, (4, 4)), Upsample(4, 4, "bilinear")(x, (4, 4))
    )


def test_fusion_weights_sum_to_one_everywhere():
    fusion = ASFF(LEVEL_WIDTHS, HEAD_WIDTHS, compress_c=8).eval()
    features = level_features()
    with torch.no_grad():
        outputs, weights = fusion(features, return_weights=True)
    assert [tuple(w.shape) for w in weights] == [(2, 3, 4, 4), (2, 3, 8, 8), (2, 3, 16, 16)]
    for w in weights:
        torch.testing.assert_close(w.sum(dim=1), torch.ones_like(w[:, 0]))
        assert (w >= 0).all() and (w <= 1).all()
        assert w.std() > 0  # really data dependent, not uniform
    assert [o.shape[1] for o in outputs] == list(HEAD_WIDTHS)


def test_returning_weights_does_not_change_the_features():
    fusion = ASFF(LEVEL_WIDTHS, HEAD_WIDTHS).eval()
    features = level_features()
    with torch.no_grad():
        plain, none_weights = fusion(features)
        with_weights, weights = fusion(features, return_weights=True)
    assert none_weights is None and len(weights) == 3
    for a, b in zip(plain, with_weights):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("level", [0, 1, 2])
@pytest.mark.parametrize("dominant", [0, 1, 2])
def test_a_dominant_logit_reduces_asff_to_that_level(level, dominant):
    fusion = ASFF(LEVEL_WIDTHS, HEAD_WIDTHS, compress_c=8).eval()
    block = fusion.levels[level]
    with torch.no_grad():
        block.weight_logits.weight.zero_()
        block.weight_logits.bias.fill_(-50.0)
        block.weight_logits.bias[dominant] = 50.0
        resized = block.resize(level_features())
        fused, weights = block.fuse(resized)
    torch.testing.assert_close(fused, resized[dominant])
    assert torch.all(weights[:, dominant] > 0.999999)
    # ...and the others really differ, so the check above can fail.
    for other in {0, 1, 2} - {dominant}:
        assert not torch.allclose(fused, resized[other])


def test_sum_and_concat_fuse_the_resized_maps():
    features = level_features()
    with torch.no_grad():
        sum_block = FUSIONS.build("sum", LEVEL_WIDTHS, HEAD_WIDTHS, FusionOptions()).eval().levels[1]
        resized = sum_block.resize(features)
        fused, weights = sum_block.fuse(resized)
        torch.testing.assert_close(fused, resized[0] + resized[1] + resized[2])
        assert weights is None
        concat_block = FUSIONS.build("concat", LEVEL_WIDTHS, HEAD_WIDTHS, FusionOptions()).eval().levels[1]
        fused, _ = concat_block.fuse(concat_block.resize(features))
    assert concat_block.reduce.conv.in_channels == 3 * 16 and fused.shape[1] == 16


def test_none_is_the_yolov3_fpn():
    fusion = FPNFusion((512, 256, 256), (1024, 512, 256))
    expand0, expand1, expand2 = (block.expand for block in fusion.levels)
    assert (expand0.conv.in_channels, expand0.conv.out_channels, expand0.conv.kernel_size) == (512, 1024, (3, 3))
    assert (expand1.conv.in_channels, expand1.conv.out_channels) == (256, 512)
    assert isinstance(expand2, torch.nn.Identity)
    features = level_features(widths=(512, 256, 256), batch=1, size=1)
    with torch.no_grad():
        outputs, weights = fusion.eval()(features, return_weights=True)
    assert weights is None and outputs[2] is features[2]


def test_detector_returns_fusion_weights_only_when_asked(tiny_model, images):
    model = tiny_model(fusion="asff").eval()
    with torch.no_grad():
        plain = model(images)
        visual = model(images, return_fusion_weights=True)
    assert plain.fusion_weights is None
    assert [tuple(w.shape) for w in visual.fusion_weights] == [(2, 3, 2, 2), (2, 3, 4, 4), (2, 3, 8, 8)]
    for a, b in zip(plain.levels, visual.levels):
        torch.testing.assert_close(a.pred, b.pred, rtol=0, atol=0)
    with torch.no_grad():
        assert tiny_model(fusion="sum").eval()(images, return_fusion_weights=True).fusion_weights is None


@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_sizes_that_are_not_multiples_of_32(tiny_model, upsample):
    model = tiny_model(fusion="asff", upsample=upsample).eval()
    with torch.no_grad():
        output = model(torch.randn(1, 3, 100, 72), return_fusion_weights=True)
    # Each stride-2 step rounds up: 100 -> 13 / 7 / 4 and 72 -> 9 / 5 / 3 at strides 8 / 16 / 32.
    assert [tuple(level.pred.shape[2:4]) for level in output.levels] == [(4, 3), (7, 5), (13, 9)]
    assert [tuple(w.shape[2:]) for w in output.fusion_weights] == [(4, 3), (7, 5), (13, 9)]
