"""`recipe.augment=ultralytics`: each step against ultralytics' own transforms on the same draws
(the oracle), boxes that follow their pixels through mosaic and affine, the drop rules, the
rates and ranges of the draws, and the mosaic's last epochs off."""

from __future__ import annotations

import random

import numpy as np
import pytest

from asffbench.data.reference_augment.sample import make_sample
from asffbench.data.sampler import DetectionBatchSampler, ScaleSchedule
from asffbench.data.ultralytics_augment import UltralyticsAugment
from asffbench.data.ultralytics_augment.affine import affine_matrix, kept_boxes, random_affine, transform_boxes
from asffbench.data.ultralytics_augment.mixup import blend
from asffbench.data.ultralytics_augment.colour import hsv_tables, random_flip, random_hsv
from asffbench.data.ultralytics_augment.mosaic import mosaic4, placements
from asffbench.data.ultralytics_augment.resize import long_side_to

augment = pytest.importorskip("ultralytics.data.augment")
instance = pytest.importorskip("ultralytics.utils.instance")

SIZE = 64
COLOURS = [(230, 20, 20), (20, 230, 20), (20, 20, 230), (230, 230, 20)]


def solid_box_sample(colour, shape=(48, 40), box=(8, 10, 30, 40)):
    """A white image with one solid-colour box."""
    image = np.full((*shape, 3), 255, dtype=np.uint8)
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = colour
    return make_sample(image, np.array([box], dtype=np.float64), np.array([COLOURS.index(colour)]))


def box_colour(image, box, margin=2):
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    inner = image[y1 + margin:y2 - margin, x1 + margin:x2 - margin]
    return inner.reshape(-1, 3).mean(axis=0)


# --- against the oracle ------------------------------------------------------------------------
def oracle_labels(sample):
    bgr = np.ascontiguousarray(sample.image[..., ::-1])
    instances = instance.Instances(sample.boxes.astype(np.float32), np.zeros((0, 1000, 2), np.float32),
                                   bbox_format="xyxy", normalized=False)
    return {"img": bgr, "cls": sample.labels[:, None].astype(np.float32), "instances": instances}


@pytest.mark.parametrize("seed", range(6))
def test_affine_equals_the_oracles_random_perspective(seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size=(90, 120, 3), dtype=np.uint8)
    boxes = np.array([[5, 5, 60, 50], [100, 70, 119, 89], [40, 30, 44, 80], [0, 0, 2, 2]], dtype=np.float64)
    sample = make_sample(image, boxes, np.arange(4))
    oracle = augment.RandomPerspective(translate=0.1, scale=0.5, size=(SIZE, SIZE))
    random.seed(seed)
    matrix, gain = oracle._compute_affine_matrix(sample.image, (SIZE, SIZE))
    random.seed(seed)
    theirs = oracle(oracle_labels(sample))
    shift = ((matrix[0, 2] + gain * 120 / 2) / SIZE, (matrix[1, 2] + gain * 90 / 2) / SIZE)
    ours_matrix = affine_matrix((90, 120), SIZE, gain, shift)
    assert np.allclose(ours_matrix, matrix[:2], atol=1e-3)
    ours = random_affine_with(sample, gain, shift)
    assert np.abs(ours.image.astype(int) - theirs["img"][..., ::-1].astype(int)).max() <= 1
    assert np.allclose(ours.boxes, theirs["instances"].bboxes, atol=1e-3)
    assert ours.labels.tolist() == theirs["cls"][:, 0].astype(int).tolist()


def random_affine_with(sample, gain, shift):
    """random_affine with its three draws fixed to the oracle's."""

    class Fixed:
        def __init__(self):
            self.values = [gain, *shift]

        def uniform(self, low, high):
            return self.values.pop(0)

    return random_affine(sample, SIZE, Fixed(), translate=0.1, scale=0.5)


def test_drop_rules_equal_the_oracles_box_candidates():
    rng = np.random.default_rng(0)
    before = np.sort(rng.uniform(0, 100, size=(500, 4)).reshape(500, 2, 2), axis=1).transpose(0, 2, 1).reshape(500, 4)
    after = before * rng.uniform(0.0, 1.2, size=(500, 4))
    after[:, 2:] = np.maximum(after[:, 2:], after[:, :2])
    expected = augment.RandomPerspective.box_candidates(before.T, after.T)
    assert kept_boxes(before, after).tolist() == expected.tolist()
    assert 50 < expected.sum() < 450  # both outcomes well represented


def test_drop_rules_by_hand():
    before = np.array([[0, 0, 10, 10]] * 4, dtype=np.float64)
    after = np.array([[0, 0, 2, 10], [0, 0, 3, 3], [0, 0, 3.2, 3.2], [0, 0, 10, 10]], dtype=np.float64)
    # 2 px wide: not > 2; 9/100 of the area: not > 0.1; 10.24/100: kept; whole: kept.
    assert kept_boxes(before, after).tolist() == [False, False, True, True]


@pytest.mark.parametrize("seed", range(4))
def test_hsv_equals_the_oracles_on_the_same_draw(seed):
    image = np.random.default_rng(seed).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    image[0, 0] = 255  # a white pixel stays neutral (saturation 0 maps to 0): no hue shift can tint it
    gains = (0.015, 0.7, 0.4)
    theirs = {"img": np.ascontiguousarray(image[..., ::-1]).copy()}
    np.random.seed(seed)
    augment.RandomHSV(*gains)(theirs)
    np.random.seed(seed)
    offsets = np.random.uniform(-1, 1, 3) * gains

    class Fixed:
        def uniform(self, low, high, size):
            return offsets / np.asarray(gains)

    ours = random_hsv(make_sample(image, np.zeros((0, 4)), np.zeros(0)), Fixed(), gains)
    assert np.array_equal(ours.image, theirs["img"][..., ::-1])
    assert len(set(ours.image[0, 0].tolist())) == 1
    assert hsv_tables(np.zeros(3))[0, :, 0].tolist() == list(range(180)) + list(range(76))


class ShapesDataset:
    """What the oracle's Mosaic asks of a dataset: images by index (of known shapes)."""

    shapes = [(64, 48), (30, 64), (64, 64), (50, 20), (17, 64)]

    def __len__(self):
        return len(self.shapes)

    def get_image_and_label(self, index):
        return {"img": np.zeros((*self.shapes[index], 3), np.uint8)}


def test_mosaic_placements_equal_the_oracles_layout():
    mosaic = augment.Mosaic.__new__(augment.Mosaic)
    mosaic.imgsz, mosaic.n, mosaic.border, mosaic.p = SIZE, 4, (-SIZE // 2, -SIZE // 2), 1.0
    mosaic.dataset, mosaic.buffer_enabled, mosaic.pre_transform = ShapesDataset(), False, None
    for seed in range(10):
        random.seed(seed)
        layout = augment.Mosaic.get_params(mosaic, {"img": np.zeros((40, 64, 3), np.uint8)})["layout"]
        centre = (layout[0]["x2a"], layout[0]["y2a"])
        shapes = [part["img_shape"] for part in layout]
        for part, (canvas, image) in zip(layout, placements(centre, shapes, SIZE)):
            assert canvas == (part["x1a"], part["y1a"], part["x2a"], part["y2a"])
            assert image == (part["x1b"], part["y1b"], part["x2b"], part["y2b"])


# --- boxes follow their pixels --------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(12))
def test_boxes_stay_on_their_colour_through_mosaic_and_affine(seed):
    rng = np.random.default_rng(seed)
    samples = [long_side_to(solid_box_sample(colour, shape=(48 + 8 * i, 40 + 4 * i)), SIZE)
               for i, colour in enumerate(COLOURS)]
    mosaic = mosaic4(samples, SIZE, rng)
    assert mosaic.image.shape == (2 * SIZE, 2 * SIZE, 3)
    out = random_affine(mosaic, SIZE, rng)
    assert out.image.shape == (SIZE, SIZE, 3)
    for box, label in zip(out.boxes, out.labels):
        if min(box[2] - box[0], box[3] - box[1]) > 6:
            assert np.abs(box_colour(out.image, box) - COLOURS[label]).max() < 30, (seed, box, label)


def test_flip_moves_boxes_with_pixels():
    sample = solid_box_sample(COLOURS[0])

    class Heads:
        def random(self):
            return 0.0

    flipped = random_flip(sample, Heads(), p=0.5)
    assert flipped.boxes.tolist() == [[40 - 30, 10, 40 - 8, 40]]
    assert np.abs(box_colour(flipped.image, flipped.boxes[0]) - COLOURS[0]).max() == 0


def test_long_side_resize_matches_the_oracles_rule():
    sample = solid_box_sample(COLOURS[1], shape=(50, 33))
    out = long_side_to(sample, SIZE)
    assert (out.height, out.width) == (64, 43)  # ceil(33 x 64 / 50) = 43
    assert np.allclose(out.boxes, sample.boxes * [43 / 33, 64 / 50, 43 / 33, 64 / 50])


# --- rates, ranges and the schedule -----------------------------------------------------------------
def test_draws_stay_in_their_ranges_and_rates():
    rng = np.random.default_rng(0)
    sample = long_side_to(solid_box_sample(COLOURS[2], shape=(64, 64), box=(16, 16, 48, 48)), SIZE)
    lopsided = solid_box_sample(COLOURS[2], shape=(64, 64), box=(10, 16, 48, 48))
    widths, centres, flips = [], [], 0
    for _ in range(800):
        out = random_affine(sample, SIZE, rng)
        box = transform_boxes(sample.boxes, affine_matrix((64, 64), SIZE, 1.0, (0.5, 0.5)))[0]  # the identity
        assert np.allclose(box, sample.boxes[0])
        if len(out):
            widths.append((out.boxes[0, 2] - out.boxes[0, 0]) / 32)
            centres.append((out.boxes[0, 0] + out.boxes[0, 2]) / 2 / SIZE)
        flips += random_flip(lopsided, rng).boxes[0, 0] != 10
    widths, centres = np.array(widths), np.array(centres)
    assert widths.min() >= 0.5 - 1e-6 and widths.max() <= 1.5 + 1e-6  # gain in [0.5, 1.5]
    assert widths.min() < 0.55 and widths.max() > 1.45  # and it reaches both ends
    assert centres.min() >= 0.4 - 1e-6 and centres.max() <= 0.6 + 1e-6  # translate 0.1
    assert abs(flips / 800 - 0.5) < 0.07  # p = 0.5, > 4 sigma
    hsv_offsets = np.array([rng.uniform(-1, 1, 3) * (0.015, 0.7, 0.4) for _ in range(500)])
    assert (np.abs(hsv_offsets) <= (0.015, 0.7, 0.4)).all()


def test_mosaic_probability_and_the_single_image_path():
    loads = []

    def load(index):
        loads.append(index)
        return solid_box_sample(COLOURS[index % 4])

    rng = np.random.default_rng(1)
    half = UltralyticsAugment(mosaic_prob=0.5)
    mosaics = 0
    for _ in range(400):
        loads.clear()
        half(load, 0, 10, SIZE, True, rng)
        mosaics += len(loads) == 4
    assert abs(mosaics / 400 - 0.5) < 0.1
    loads.clear()
    UltralyticsAugment()(load, 3, 10, SIZE, False, rng)  # mosaic closed: one image only
    assert loads == [3]


def test_close_mosaic_turns_it_off_for_the_last_epochs_and_resumes_so():
    sampler = DetectionBatchSampler(8, 4, ScaleSchedule(img_size=SIZE), mosaic_epochs=7)
    flags = []
    for epoch in range(10):
        sampler.set_epoch(epoch)
        flags.append({key.mosaic for batch in sampler for key in batch})
    assert flags == [{True}] * 7 + [{False}] * 3
    resumed = DetectionBatchSampler(8, 4, ScaleSchedule(img_size=SIZE), mosaic_epochs=7)
    resumed.set_epoch(7)  # a run resumed at epoch 7 has the mosaic closed
    assert {key.mosaic for batch in resumed for key in batch} == {False}


def test_mixup_blends_two_placed_samples_and_keeps_both_boxes():
    first = make_sample(np.full((8, 8, 3), 200, np.uint8), np.array([[0, 0, 4, 4]]), np.array([1]))
    second = make_sample(np.full((8, 8, 3), 100, np.uint8), np.array([[2, 2, 8, 8]]), np.array([3]))
    rng = np.random.default_rng(3)
    ratio = np.random.default_rng(3).beta(32.0, 32.0)
    mixed = blend(first, second, rng)
    assert (mixed.image == int(200 * ratio + 100 * (1 - ratio))).all()
    assert mixed.labels.tolist() == [1, 3] and mixed.boxes.tolist() == [[0, 0, 4, 4], [2, 2, 8, 8]]
    loads = []

    def load(index):
        loads.append(index)
        return solid_box_sample(COLOURS[index % 4])

    UltralyticsAugment()(load, 0, 10, SIZE, True, np.random.default_rng(0), mixup_prob=1.0)
    assert len(loads) == 8  # two mosaics of four
    loads.clear()
    UltralyticsAugment()(load, 0, 10, SIZE, False, np.random.default_rng(0), mixup_prob=1.0)
    assert loads == [0]  # closed with the mosaic


def test_a_sample_is_a_function_of_its_seed():
    def load(index):
        return solid_box_sample(COLOURS[index % 4])

    pipeline = UltralyticsAugment()
    first = pipeline(load, 1, 4, SIZE, True, np.random.default_rng(7))
    second = pipeline(load, 1, 4, SIZE, True, np.random.default_rng(7))
    assert np.array_equal(first.image, second.image) and np.array_equal(first.boxes, second.boxes)
    other = pipeline(load, 1, 4, SIZE, True, np.random.default_rng(8))
    assert not np.array_equal(first.image, other.image)
