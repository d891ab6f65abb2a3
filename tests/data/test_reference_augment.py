"""`recipe.augment=reference`: each step of the reference's pipeline with fixed seeds (how often
it fires, the ranges it draws from) and boxes that follow the pixels (a box drawn in a solid
colour still covers that colour after every step)."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from asffbench.data.reference_augment import ReferenceAugment, blend_raw, draw_lambda, make_sample, reference_steps
from asffbench.data.reference_augment.affine import random_affine
from asffbench.data.reference_augment.colour import random_brightness, random_contrast, random_hue_saturation
from asffbench.data.reference_augment.crop import crop_window, ssd_crop, try_crop
from asffbench.data.reference_augment.geometry import MEAN_FILL, expand, mirror
from asffbench.data.reference_augment.train_resize import INTERPOLATIONS, resize_to_square

DRAWS = 700
RED = (220, 20, 30)
GREEN = (30, 160, 60)


def red_box_sample(height: int = 48, width: int = 64, box=(16, 12, 44, 36)):
    """A green image with one red box, the box's coordinates its annotation."""
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = GREEN
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = RED
    return make_sample(image, [box], [3])


def share(step, sample, changed) -> float:
    """The share of DRAWS seeds for which `changed(sample, step(sample, rng))` holds."""
    return sum(bool(changed(sample, step(sample, np.random.default_rng(seed)))) for seed in range(DRAWS)) / DRAWS


def inner_pixels(image: np.ndarray, box: np.ndarray, margin: float) -> np.ndarray:
    """The pixels of `box` at least `margin` (a fraction of its side) inside its edges."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    xs = slice(int(math.ceil(x1 + dx)), int(math.floor(x2 - dx)))
    ys = slice(int(math.ceil(y1 + dy)), int(math.floor(y2 - dy)))
    return image[ys, xs].reshape(-1, 3)


def assert_box_on_colour(out, colour, margin: float, tolerance: int = 0) -> None:
    assert len(out) == 1
    pixels = inner_pixels(out.image, out.boxes[0], margin)
    assert len(pixels) > 0
    assert np.abs(pixels.astype(int) - colour).max() <= tolerance, out.boxes[0]


# --- how often each step fires -------------------------------------------------------------------
def noise_sample(height: int = 40, width: int = 50):
    """Noise (every warp or colour change shows), one box covering most of it (crops within
    the IoU bounds are found in a few tries)."""
    image = np.random.default_rng(0).integers(40, 216, (height, width, 3), dtype=np.uint8)
    return make_sample(image, [[1, 1, 49, 39]], [0])


def different(a, b) -> bool:
    return a.image.shape != b.image.shape or not np.array_equal(a.image, b.image)


@pytest.mark.parametrize("step,expected", [
    (random_brightness, 0.5),
    (random_contrast, 0.5),
    (partial(expand, max_scale=4.0), 0.5),
    (mirror, 0.5),
    (random_affine, 0.5),
    (ssd_crop, 6 / 7),
])
def test_each_step_fires_as_often_as_the_reference(step, expected):
    assert share(step, noise_sample(), different) == pytest.approx(expected, abs=0.05)


def test_hue_and_saturation_each_fire_half_the_time():
    grey_free = make_sample(np.full((8, 8, 3), RED, dtype=np.uint8), [[0, 0, 8, 8]], [0])
    import cv2

    def hsv(sample):
        return cv2.cvtColor(sample.image, cv2.COLOR_RGB2HSV)[0, 0].astype(int)

    hue_moved = sat_moved = 0
    for seed in range(DRAWS):
        delta = hsv(random_hue_saturation(grey_free, np.random.default_rng(seed))) - hsv(grey_free)
        hue_moved += delta[0] != 0
        sat_moved += delta[1] != 0
    assert hue_moved / DRAWS == pytest.approx(0.5 * 36 / 37, abs=0.05)  # a shift of 0 moves nothing
    assert sat_moved / DRAWS == pytest.approx(0.5, abs=0.06)


# --- the ranges they draw from ---------------------------------------------------------------------
def flat(value: int):
    return make_sample(np.full((4, 4, 3), value, dtype=np.uint8), [[0, 0, 4, 4]], [0])


def test_brightness_is_additive_within_32():
    deltas = [int(random_brightness(flat(128), np.random.default_rng(s)).image[0, 0, 0]) - 128 for s in range(DRAWS)]
    moved = [d for d in deltas if d]
    assert min(moved) >= -32 and max(moved) <= 31 and min(moved) <= -28 and max(moved) >= 28


def test_contrast_is_multiplicative_within_half_and_one_and_a_half():
    ratios = [random_contrast(flat(100), np.random.default_rng(s)).image[0, 0, 0] / 100 for s in range(DRAWS)]
    moved = [r for r in ratios if r != 1.0]
    assert min(moved) >= 0.5 and max(moved) <= 1.5 and min(moved) < 0.55 and max(moved) > 1.45
    # clipped, not wrapped
    assert random_contrast(flat(250), np.random.default_rng(next(
        s for s in range(DRAWS) if random_contrast(flat(100), np.random.default_rng(s)).image[0, 0, 0] > 120
    ))).image.max() == 255


def test_hue_shifts_within_18_opencv_units():
    import cv2

    base = cv2.cvtColor(np.full((1, 1, 3), RED, dtype=np.uint8), cv2.COLOR_RGB2HSV)[0, 0, 0]
    shifts = set()
    for seed in range(DRAWS):
        out = random_hue_saturation(make_sample(np.full((1, 1, 3), RED, np.uint8), [[0, 0, 1, 1]], [0]),
                                    np.random.default_rng(seed))
        hue = cv2.cvtColor(out.image, cv2.COLOR_RGB2HSV)[0, 0, 0]
        shifts.add(int((int(hue) - int(base) + 90) % 180 - 90))
    assert max(map(abs, shifts)) <= 19 and max(shifts) >= 16 and min(shifts) <= -16  # +-1 from the round trip


def test_expand_canvas_scale_aspect_offset_and_mean_fill():
    sample = red_box_sample()
    areas, aspects = [], []
    for seed in range(DRAWS):
        out = expand(sample, np.random.default_rng(seed), max_scale=4.0)
        if out is sample:
            continue
        sx, sy = out.width / sample.width, out.height / sample.height
        areas.append(sx * sy)
        aspects.append(sx / sy)
        assert out.image[0, 0].tolist() == list(MEAN_FILL) or out.boxes[0, 0] == 16  # image at the corner
        assert_box_on_colour(out, RED, margin=0)
    assert min(areas) >= 0.95 and max(areas) <= 16 and max(areas) > 12
    assert min(aspects) >= 0.49 and max(aspects) <= 2.05 and min(aspects) < 0.6 and max(aspects) > 1.7
    assert MEAN_FILL == (123, 116, 103)


def test_crop_window_scale_and_aspect():
    rng = np.random.default_rng(0)
    for _ in range(DRAWS):
        left, top, right, bottom = crop_window(300, 400, rng)
        sx, sy = (right - left) / 400, (bottom - top) / 300
        assert 0.3 * 0.3 * 0.95 <= sx * sy <= 1.0 and 0.49 <= sx / sy <= 2.05
        assert 0 <= left and right <= 400 and 0 <= top and bottom <= 300


TWO_BOXES = [[4, 4, 40, 40], [30, 20, 76, 56]]
LARGE_BOX = [[3, 2, 77, 58]]


@pytest.mark.parametrize("min_iou,boxes", [
    (0.1, TWO_BOXES), (-math.inf, TWO_BOXES), (0.3, TWO_BOXES), (0.5, LARGE_BOX), (0.9, LARGE_BOX),
])
def test_a_crop_is_accepted_exactly_when_every_box_meets_the_iou_bound(min_iou, boxes):
    sample = make_sample(np.zeros((60, 80, 3), np.uint8), boxes, list(range(len(boxes))))
    accepted = 0
    for seed in range(300):
        window = crop_window(60, 80, np.random.default_rng(seed))
        out = try_crop(sample, np.random.default_rng(seed), min_iou)
        iou = box_iou(torch.from_numpy(sample.boxes), torch.from_numpy(window[None]))[:, 0]
        centres = (sample.boxes[:, :2] + sample.boxes[:, 2:]) / 2
        inside = ((window[:2] < centres) & (centres < window[2:])).all(axis=1)
        assert (out is not None) == (bool((iou >= min_iou).all()) and bool(inside.any()))
        if out is not None:
            accepted += 1
            assert len(out) == inside.sum()
            assert (out.boxes >= 0).all() and (out.boxes[:, [0, 2]] <= out.width).all()
            assert (out.boxes[:, [1, 3]] <= out.height).all()
    assert accepted > 0


def test_affine_draws_and_boxes():
    sample = red_box_sample(64, 64, (20, 20, 44, 44))
    for seed in range(200):
        out = random_affine(sample, np.random.default_rng(seed))
        if out is sample:
            continue
        assert out.image.shape == sample.image.shape
        x1, y1, x2, y2 = out.boxes[0]
        assert 0 <= x1 < x2 <= 64 and 0 <= y1 < y2 <= 64
        # scale 0.9-1.1 and rotation <= 10 degrees (the hull shrunk back): the side barely changes
        assert 24 * 0.85 <= x2 - x1 <= 24 * 1.35
        # translation up to 10% of 64 px (plus the shear's and rotation's share)
        assert abs((x1 + x2) / 2 - 32) <= 6.4 + 3
        assert_box_on_colour(out, RED, margin=0.25, tolerance=2)


def test_every_interpolation_is_drawn():
    drawn = []
    sample = red_box_sample()
    import cv2

    for seed in range(100):
        resized, scale, pad = resize_to_square(sample, 32, "stretch", np.random.default_rng(seed))
        assert resized.image.shape == (32, 32, 3) and pad == (0, 0) and scale == (0.5, 32 / 48)
        drawn.append(int(np.random.default_rng(seed).integers(5)))
    assert sorted(set(drawn)) == [0, 1, 2, 3, 4] and len(INTERPOLATIONS) == 5
    assert INTERPOLATIONS[0] == cv2.INTER_LINEAR


# --- boxes follow the pixels ------------------------------------------------------------------------
@pytest.mark.parametrize("step,margin,tolerance", [
    (partial(expand, max_scale=4.0), 0.0, 0),
    (ssd_crop, 0.0, 0),
    (mirror, 0.0, 0),
    (random_affine, 0.25, 2),
    # cubic and Lanczos ring a few levels inside an edge
    (lambda s, rng: resize_to_square(s, 96, "stretch", rng)[0], 0.1, 8),
    (lambda s, rng: resize_to_square(s, 96, "letterbox", rng)[0], 0.1, 8),
])
def test_a_solid_box_stays_on_its_colour(step, margin, tolerance):
    sample = red_box_sample()
    for seed in range(60):
        assert_box_on_colour(step(sample, np.random.default_rng(seed)), RED, margin, tolerance)


def test_colour_steps_keep_the_box_uniform_and_in_place():
    sample = red_box_sample()
    for step in (random_brightness, random_contrast, random_hue_saturation):
        for seed in range(20):
            out = step(sample, np.random.default_rng(seed))
            np.testing.assert_array_equal(out.boxes, sample.boxes)
            pixels = inner_pixels(out.image, out.boxes[0], 0)
            assert (pixels == pixels[0]).all()


def test_the_whole_pipeline_keeps_the_box_on_one_colour():
    sample = red_box_sample(96, 128, (30, 20, 90, 76))
    augment = ReferenceAugment(expand_max=4.0, min_box_size=6.0, resize="stretch")
    for seed in range(40):
        out, scale, pad = augment(sample, 96, np.random.default_rng(seed))
        assert out.image.shape == (96, 96, 3) and len(out) == 1
        pixels = inner_pixels(out.image, out.boxes[0], 0.3).astype(int)
        assert np.abs(pixels - pixels.mean(axis=0)).max() <= 8, seed  # whatever colour it became


def test_the_steps_are_the_reference_order():
    names = [getattr(step, "func", step).__name__ for step in reference_steps(4.0)]
    assert names == ["random_brightness", "random_contrast", "random_hue_saturation", "expand", "ssd_crop",
                     "mirror", "random_affine"]


# --- filter, fallback, cap, images without boxes, mixup ---------------------------------------------
def test_boxes_whose_smaller_side_is_not_above_the_minimum_make_way_for_the_original():
    # A crop magnifies at most 64 / (0.3 x 0.707 x 128) = 2.4x, the affine 1.1x and its hull of
    # these boxes under 1.6x: no box reaches 6 px after any augmentation.
    image = np.full((128, 128, 3), 90, np.uint8)
    tiny = make_sample(image, [[10, 10, 11, 13], [40, 40, 41, 41]], [1, 2])
    augment = ReferenceAugment(expand_max=1.0, min_box_size=6.0, resize="stretch")
    for seed in range(20):
        out, scale, pad = augment(tiny, 64, np.random.default_rng(seed))
        np.testing.assert_allclose(out.boxes, tiny.boxes / 2)  # the original, every box of it
        assert out.labels.tolist() == [1, 2] and scale == (0.5, 0.5) and (out.image == 90).all()


def test_the_filter_is_strict():
    from asffbench.data.reference_augment.pipeline import smaller_side

    boxes = np.array([[0, 0, 6, 20], [0, 0, 6.01, 20]])
    assert (smaller_side(boxes) > 6.0).tolist() == [False, True]


def test_at_most_50_boxes():
    image = np.full((64, 64, 3), 90, np.uint8)
    many = make_sample(image, [[2, 2, 62, 62]] * 60, list(range(60)))
    augment = ReferenceAugment(expand_max=1.0, min_box_size=6.0, resize="stretch")
    out, _, _ = augment(many, 64, np.random.default_rng(0))
    assert len(out) == 50 and out.labels.tolist() == list(range(50))


def test_an_image_without_boxes_is_only_resized():
    empty = make_sample(np.full((40, 80, 3), 77, np.uint8), np.zeros((0, 4)), [])
    out, scale, pad = ReferenceAugment()(empty, 32, np.random.default_rng(0))
    assert out.image.shape == (32, 32, 3) and (out.image == 77).all() and len(out) == 0
    assert scale == (0.4, 0.8)


def test_raw_mixup_canvas_and_weights():
    first = make_sample(np.full((20, 30, 3), 100, np.uint8), [[1, 1, 10, 10]], [0])
    second = make_sample(np.full((25, 10, 3), 200, np.uint8), [[2, 2, 8, 8]], [1])
    blend = blend_raw(first, second, 0.25)
    assert blend.image.shape == (25, 30, 3)
    assert blend.image[0, 0, 0] == 175 and blend.image[0, 20, 0] == 25 and blend.image[22, 5, 0] == 150
    assert blend.image[22, 20, 0] == 0  # outside both images: the zero canvas
    assert blend.weights.tolist() == [0.25, 0.75] and blend.labels.tolist() == [0, 1]
    lams = [draw_lambda(np.random.default_rng(s)) for s in range(DRAWS)]
    assert 0 <= min(lams) and max(lams) <= 1 and np.mean(lams) == pytest.approx(0.5, abs=0.03)


# --- the dataset: crowd boxes, box convention, the reference pipeline in the loader -----------------
@pytest.fixture
def crowd_coco(tmp_path):
    import json

    from PIL import Image

    (tmp_path / "img").mkdir()
    Image.new("RGB", (64, 48), GREEN).save(tmp_path / "img" / "1.png")
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [4, 4, 20, 20], "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [30, 10, 30, 30], "iscrowd": 1},
        {"id": 3, "image_id": 1, "category_id": 1, "bbox": [10, 20, 10, 10], "iscrowd": 0},
    ]
    data = {"images": [{"id": 1, "file_name": "1.png", "width": 64, "height": 48}], "annotations": anns,
            "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    (tmp_path / "ann.json").write_text(json.dumps(data))
    return tmp_path / "ann.json", tmp_path / "img"


def test_crowd_targets_and_the_inclusive_box_convention(crowd_coco):
    from asffbench.data.coco import CocoDataset
    from asffbench.data.dataset import DetectionDataset

    source = CocoDataset(*crowd_coco)
    plain = DetectionDataset(source, train=True, img_size=64)
    boxes, labels = plain.training_boxes(0)
    assert boxes.tolist() == [[4, 4, 24, 24], [10, 20, 20, 30]] and labels.tolist() == [0, 0]
    reference = DetectionDataset(source, train=True, img_size=64, crowd_targets=True, box_convention="inclusive")
    boxes, labels = reference.training_boxes(0)
    # annotation order, the crowd box included, x2 = x + w - 1
    assert boxes.tolist() == [[4, 4, 23, 23], [30, 10, 59, 39], [10, 20, 19, 29]] and labels.tolist() == [0, 1, 0]
    assert source.targets(0)[0].tolist() == [[4, 4, 24, 24], [10, 20, 20, 30]]  # the source is untouched
    val = DetectionDataset(source, train=False, img_size=64, crowd_targets=True, box_convention="inclusive")
    assert val.training_boxes(0)[0].tolist() == [[4, 4, 24, 24], [10, 20, 20, 30]]  # training only


def test_the_reference_pipeline_in_the_train_loader():
    from asffbench.config.compose import compose_config
    from asffbench.data.loaders import build_train_loader
    from asffbench.settings import train_data_settings

    cfg = compose_config([
        "recipe=reference", "model=tiny", "data.synth.images=16", "data.synth.image_size=160", "img_size=64",
        "train.batch_size=4", "data.workers=0", "train.epochs=2", "tricks.multiscale=false",
        "train.mixup_off_epochs=3", "train.max_iters_per_epoch=2",  # its arithmetic: on while epoch <= 2 - 3 + 1
    ])
    loader = build_train_loader(train_data_settings(cfg))
    assert loader.dataset.reference_augment is not None and loader.dataset.augment is None
    for epoch, mixed in ((0, True), (1, False)):
        loader.set_epoch(epoch)
        batches = list(loader)
        for images, targets, metas in batches:
            assert images.shape == (4, 3, 64, 64) and targets.shape[1] == 7
            sides = torch.minimum(targets[:, 4] - targets[:, 2], targets[:, 5] - targets[:, 3])
            assert all(isinstance(m["scale"], tuple) for m in metas)  # a stretch
            assert (sides > 0).all()
        weights = torch.cat([t[:, 6] for _, t, _ in batches])
        assert bool((weights < 1).any()) == mixed  # mixup on every sample while it is on, then off
    loader.set_epoch(0)
    again = list(loader)
    loader.set_epoch(0)
    torch.testing.assert_close(list(loader)[0][1], again[0][1])  # seeded per sample
