"""The reference recipe's last four differences (affine fill, difficult objects, box clamps, mixup
epochs) and the geometry details a scripted draw pins down. Expected values are worked out from
the reference's formulas as the facts state them, not from its code."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from asffbench.data.box_reading import clamp_inclusive_boxes
from asffbench.data.reference_augment.affine import affine_matrix, random_affine
from asffbench.data.reference_augment.crop import crop_window, try_crop
from asffbench.data.reference_augment.geometry import MEAN_FILL, ROUNDED_MEAN_FILL, expand
from asffbench.data.reference_augment.train_resize import INTERPOLATIONS, resize_to_square
from asffbench.data.reference_augment.sample import make_sample


class ScriptedRng:
    """Returns the scripted values in order and records each call's arguments."""

    def __init__(self, *values):
        self.values, self.calls = list(values), []

    def _next(self, name, args):
        self.calls.append((name, args))
        return self.values.pop(0)

    def uniform(self, *args):
        return self._next("uniform", args)

    def integers(self, *args):
        return self._next("integers", args)

    def random(self, *args):
        return self._next("random", args)


def test_the_affine_fill_is_the_float_mean_as_opencv_rounds_it():
    # The reference's BGR mean x 255 is (103.53, 116.28, 123.675); in RGB, rounded and truncated:
    assert ROUNDED_MEAN_FILL == (124, 116, 104)
    assert MEAN_FILL == (123, 116, 103)
    # A black image shifted right and down by the largest translation: its top-left is border.
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    rng = ScriptedRng(1, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0)  # coin, angle, scale, tx, ty, shear x, shear y
    out = random_affine(make_sample(image, [[10, 10, 20, 20]], [0]), rng, fill=ROUNDED_MEAN_FILL)
    assert out.image[0, 0].tolist() == [124, 116, 104]
    assert out.image[-1, -1].tolist() == [0, 0, 0]
    # The border is 0.1 x HEIGHT = 4 px wide in x and 0.1 x WIDTH = 6 px high in y.
    assert (out.image[10, :4] == (124, 116, 104)).all() and (out.image[10, 4] == 0).all()
    assert (out.image[:6, 10] == (124, 116, 104)).all() and (out.image[6, 10] == 0).all()
    assert out.boxes.tolist() == [[14, 16, 24, 26]]


def test_translation_uses_the_height_for_x_and_the_width_for_y():
    rng = ScriptedRng(0.0, 1.0, 1.0, -1.0, 0.0, 0.0)  # angle 0, scale 1, tx +1, ty -1, no shear
    matrix, angle = affine_matrix(100, 300, rng)  # height 100, width 300
    assert angle == 0.0
    np.testing.assert_allclose(matrix, [[1, 0, 0.1 * 100], [0, 1, -0.1 * 300], [0, 0, 1]], atol=1e-12)


def test_the_five_interpolations_in_the_reference_order():
    assert INTERPOLATIONS == (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA, cv2.INTER_NEAREST, cv2.INTER_LANCZOS4)
    image = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    for index, interpolation in enumerate(INTERPOLATIONS):
        rng = ScriptedRng(index)
        out, _, _ = resize_to_square(make_sample(image, [[0, 0, 10, 10]], [0]), 64, "stretch", rng)
        assert rng.calls == [("integers", (5,))]
        np.testing.assert_array_equal(out.image, cv2.resize(image, (64, 64), interpolation=interpolation))


def test_expand_offsets_and_canvas():
    image = np.full((10, 20, 3), 7, dtype=np.uint8)
    rng = ScriptedRng(1, 2.0, 1.0, 5, 7)  # coin, scale 2, ratio^2 1, left, top
    out = expand(make_sample(image, [[1, 2, 3, 4]], [0]), rng, max_scale=4.0)
    assert out.image.shape == (20, 40, 3)  # (scale / ratio) H by (scale x ratio) W
    # the offsets are drawn in [0, new - old] inclusive
    assert rng.calls[3:] == [("integers", (0, 21)), ("integers", (0, 11))]
    assert out.image[0, 0].tolist() == [123, 116, 103] and out.image[7, 5].tolist() == [7, 7, 7]
    assert out.image[6, 5].tolist() == [123, 116, 103] and out.image[16, 24].tolist() == [7, 7, 7]
    assert out.boxes.tolist() == [[6, 9, 8, 11]]


def test_crop_window_offsets_and_boxes():
    rng = ScriptedRng(0.5, 1.0, 30, 20)  # scale 0.5, ratio^2 1, left, top
    window = crop_window(100, 200, rng)
    assert window.tolist() == [30, 20, 130, 70]  # w = 0.5 x 200, h = 0.5 x 100
    assert rng.calls[2:] == [("integers", (100,)), ("integers", (50,))]  # randrange(W - w), randrange(H - h)
    image = np.arange(100 * 200 * 3, dtype=np.int64).reshape(100, 200, 3).astype(np.uint8)
    sample = make_sample(image, [[40, 30, 60, 50], [110, 40, 140, 80], [140, 20, 160, 40]], [0, 1, 2])
    out = try_crop(sample, ScriptedRng(0.5, 1.0, 30, 20), -np.inf)
    assert out.boxes.tolist() == [[10, 10, 30, 30], [80, 20, 100, 50]]  # shifted, the second clipped, the third (centre outside) dropped
    np.testing.assert_array_equal(out.image, image[20:70, 30:130])


def test_the_reference_box_clamps():
    # (x, y, w, h) -> inclusive (x, y, x + w - 1, y + h - 1) in a 100 x 80 image
    def inclusive(x, y, w, h):
        return [x, y, x + w - 1, y + h - 1]

    boxes = np.array([
        inclusive(-5, 10, 20, 10),   # starts left of the image: x1 = 0, x2 = 0 + 19 (not -5 + 19)
        inclusive(10, 10, 0.5, 10),  # under 1 px: x2 = x1 + max(0, -0.5) = x1, not inverted
        inclusive(90, 70, 20, 20),   # past the far edges: x2 = min(99, 109), y2 = min(79, 89)
        inclusive(100.5, 10, 5, 5),  # starts past the right edge: x2 = 99 < x1, dropped
    ], dtype=np.float64)
    out, labels = clamp_inclusive_boxes(boxes, np.arange(4), 100, 80)
    assert out.tolist() == [[0, 10, 19, 19], [10, 10, 10, 19], [90, 70, 99, 79]]
    assert labels.tolist() == [0, 1, 2]


@pytest.fixture
def difficult_coco(tmp_path):
    from PIL import Image

    (tmp_path / "img").mkdir()
    Image.new("RGB", (64, 48)).save(tmp_path / "img" / "1.png")
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [-2, 4, 20, 20], "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [30, 10, 30, 30], "iscrowd": 1, "difficult": 1},
        {"id": 3, "image_id": 1, "category_id": 1, "bbox": [10, 20, 10, 10], "iscrowd": 1},
    ]
    data = {"images": [{"id": 1, "file_name": "1.png", "width": 64, "height": 48}], "annotations": anns,
            "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    (tmp_path / "ann.json").write_text(json.dumps(data))
    return tmp_path / "ann.json", tmp_path / "img"


@pytest.mark.parametrize("crowd,difficult,ids", [(False, False, [1]), (True, False, [1, 3]),
                                                 (False, True, [1, 2]), (True, True, [1, 2, 3])])
def test_difficult_objects_only_when_kept(difficult_coco, crowd, difficult, ids):
    from asffbench.data.coco import CocoDataset

    source = CocoDataset(*difficult_coco)
    boxes, _ = source.targets(0, include_crowd=crowd, include_difficult=difficult)
    by_id = {1: [-2, 4, 18, 24], 2: [30, 10, 60, 40], 3: [10, 20, 20, 30]}
    assert boxes.tolist() == [by_id[i] for i in ids]  # annotation order


def test_the_dataset_clamps_and_keeps_difficult_for_training_only(difficult_coco):
    from asffbench.data.coco import CocoDataset
    from asffbench.data.dataset import DetectionDataset

    source = CocoDataset(*difficult_coco)
    reference = DetectionDataset(source, train=True, img_size=64, crowd_targets=True, box_convention="inclusive",
                                 box_clamp=True, keep_difficult=True)
    boxes, _ = reference.training_boxes(0, (64, 48))
    assert boxes.tolist() == [[0, 4, 19, 23], [30, 10, 59, 39], [10, 20, 19, 29]]
    assert len(reference.raw_sample(0)) == 3
    val = DetectionDataset(source, train=False, img_size=64, keep_difficult=True)
    assert len(val.training_boxes(0)[0]) == 1


@pytest.mark.parametrize("form,epochs,off,expected", [("exact", 300, 30, 270), ("reference", 300, 30, 272),
                                                      ("reference", 10, 30, 0), ("reference", 10, 0, 10)])
def test_mixup_epoch_arithmetic(form, epochs, off, expected):
    from asffbench.data.loaders import SamplingSettings

    sampling = SamplingSettings(batch_size=2, epochs=epochs, multiscale=False, multiscale_every=10,
                                multiscale_min=320, multiscale_max=608, multiscale_fixed_epochs=0, mixup=True,
                                mixup_off_epochs=off, max_batches=None, mixup_off_form=form)
    assert sampling.mixup_epochs == expected


def test_the_reference_recipe_reaches_the_loader_and_old_hashes_stand():
    from asffbench.config.compose import compose_config
    from asffbench.runs.experiment import experiment_hash
    from asffbench.settings import train_data_settings

    cfg = compose_config(["recipe=reference", "data=voc_synth"])
    data = train_data_settings(cfg)
    assert (data.augment.box_clamp, data.augment.keep_difficult, data.augment.affine_fill) == (True, True, "rounded")
    assert data.sampling.mixup_epochs == 272
    # A record made before these keys existed lacks them; its hash is the one of their first values.
    from asffbench.config.compose import to_plain

    for overrides in ([], ["recipe=reference"], ["data=voc_synth"]):
        plain = to_plain(compose_config([*overrides, "recipe.box_clamp=false", "recipe.affine_fill=truncated",
                                         "recipe.mixup_off_form=exact", "data.keep_difficult=false"]))
        old = json.loads(json.dumps(plain))
        for section, key in (("recipe", "box_clamp"), ("recipe", "affine_fill"), ("recipe", "mixup_off_form"),
                             ("data", "keep_difficult")):
            del old[section][key]
        assert experiment_hash(old, "cpu") == experiment_hash(plain, "cpu")
    # keep_difficult is hashed on VOC only (COCO has no difficult objects)
    coco_like = to_plain(compose_config(["recipe=reference"]))
    flipped = json.loads(json.dumps(coco_like))
    flipped["data"]["keep_difficult"] = False
    assert experiment_hash(coco_like, "cpu") == experiment_hash(flipped, "cpu")


def test_box_clamp_without_the_inclusive_convention_is_a_one_line_error():
    from asffbench.config.compose import compose_config
    from asffbench.errors import UserError
    from asffbench.settings import train_data_settings

    with pytest.raises(UserError, match="recipe.box_convention=inclusive"):
        train_data_settings(compose_config(["recipe.box_clamp=true"]))
