"""The data switches of `recipe=`: no channel permutation, expand range, letterbox or stretch
(training and test time), mixup probability; and the loaders take them from the config."""

from __future__ import annotations

import pytest
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from asffbench.data.loaders import build_train_loader, build_val_loader
from asffbench.settings import data_settings, train_data_settings
from asffbench.data.coco import CocoDataset
from asffbench.data.dataset import DetectionDataset
from asffbench.data.test_time import preprocess_test_image
from asffbench.data.transforms import PAD_VALUE, PhotometricDistort, build_train_augment
from asffbench.engine.postprocess import boxes_to_original
import test_data_pipeline
from test_data_pipeline import BOXES, synth_cfg

rectangles = test_data_pipeline.rectangles  # the fixture, shared


def red_image() -> tv_tensors.Image:
    image = torch.zeros(3, 8, 8, dtype=torch.uint8)
    image[0] = 200
    image[1:] = 40
    return tv_tensors.Image(image)


def red_stays_red(distort: v2.Transform, seeds: int = 60) -> bool:
    for seed in range(seeds):
        torch.manual_seed(seed)
        out = distort(red_image()).float().mean(dim=(1, 2))
        if not (out[0] > out[1] and out[0] > out[2]):
            return False
    return True


def test_photometric_distortion_never_permutes_the_colour_channels():
    assert not red_stays_red(v2.RandomPhotometricDistort(p=1.0))  # torchvision's does permute
    assert red_stays_red(PhotometricDistort(p=1.0))
    augment = build_train_augment()
    assert any(isinstance(t, PhotometricDistort) for t in augment.transforms)


@pytest.mark.parametrize("expand_max", [2.0, 4.0])
def test_expand_range(expand_max):
    (zoom,) = [t for t in build_train_augment(expand_max).transforms if isinstance(t, v2.RandomZoomOut)]
    assert tuple(zoom.side_range) == (1.0, expand_max)


def test_stretch_fills_the_square_and_maps_back_per_axis():
    image = torch.full((3, 40, 100), 7, dtype=torch.uint8)
    model_input, shown, meta = preprocess_test_image(image, 64, "stretch")
    assert model_input.shape == shown.shape == (3, 64, 64)
    assert (shown == 7).all()  # no padding anywhere
    assert meta == {"orig_size": (40, 100), "scale": (0.64, 1.6), "pad": (0, 0)}
    back = boxes_to_original(torch.tensor([[0.0, 0.0, 32.0, 64.0]]), meta)
    assert back[0].tolist() == pytest.approx([0.0, 0.0, 50.0, 40.0])
    _, boxed, letterbox_meta = preprocess_test_image(image, 64, "letterbox")
    assert (boxed[:, 0] == PAD_VALUE).all() and letterbox_meta["scale"] == pytest.approx(0.64)


def test_stretched_val_samples_map_back_to_the_original_boxes(rectangles):
    source = CocoDataset(*rectangles)
    dataset = DetectionDataset(source, train=False, img_size=64, resize="stretch")
    for index in range(len(dataset)):
        _, target, meta = dataset[index]
        assert meta["pad"] == (0, 0) and meta["scale"][0] != meta["scale"][1]
        back = boxes_to_original(target[:, 1:5], meta)
        truth = torch.tensor([b[:4] for b in BOXES[meta["image_id"]]], dtype=torch.float32)
        assert torch.allclose(back, truth, atol=2.0)


def test_loaders_follow_the_recipe():
    train = build_train_loader(train_data_settings(synth_cfg("recipe=reference")))
    assert (train.dataset.resize, train.dataset.mixup_prob, train.dataset.min_box_size) == ("stretch", 1.0, 6.0)
    assert train.dataset.reference_augment.expand_max == 4.0 and train.dataset.augment is None
    train = build_train_loader(train_data_settings(synth_cfg("recipe=reference", "recipe.augment=asffbench")))
    (zoom,) = [t for t in train.dataset.augment.transforms if isinstance(t, v2.RandomZoomOut)]
    assert tuple(zoom.side_range) == (1.0, 4.0)
    _, val = build_val_loader(data_settings(synth_cfg("recipe=reference")))
    assert val.resize == "stretch"
    _, val = build_val_loader(data_settings(synth_cfg("recipe=reference", "recipe.test_resize=letterbox")))
    assert val.resize == "letterbox"
    assert build_train_loader(train_data_settings(synth_cfg())).dataset.resize == "letterbox"


def test_mixup_probability_one_blends_every_sample_while_mixup_is_on():
    loader = build_train_loader(train_data_settings(synth_cfg("recipe.mixup_prob=1.0")))
    loader.set_epoch(0)
    for _, targets, _ in loader:
        for image in targets[:, 0].unique():
            assert (targets[targets[:, 0] == image, 6] < 1).all()
