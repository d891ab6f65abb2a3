"""`recipe.test_interp`: the test-time decoder and resize kernel. `opencv_linear` is the
reference's `ValTransform` (cv2.imread, BGR -> RGB, cv2.resize INTER_LINEAR, / 255, mean/std),
checked pixel for pixel against OpenCV called directly; `torchvision` stays asffbench's."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from asffbench.config.compose import compose_config
from asffbench.data.coco import CocoDataset, load_rgb
from asffbench.data.dataset import DetectionDataset
from asffbench.data.test_time import decoder_of, preprocess_test_image, resize_for_test
from asffbench.data.transforms import IMAGENET_MEAN, IMAGENET_STD, to_boxes
from asffbench.errors import UserError
from asffbench.runs.experiment import experiment_hash
from asffbench.settings import data_settings


def textured(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth-ish random RGB image: JPEG keeps it, and a downscale aliases it."""
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur((rng.random((height, width, 3)) * 255).astype(np.uint8), (5, 5), 1.0)


def write_split(root, image: np.ndarray, boxes: list[list[float]]):
    """One JPEG and its COCO annotations (boxes as [x, y, w, h])."""
    images = root / "images"
    images.mkdir()
    Image.fromarray(image).save(images / "1.jpg", quality=90)
    height, width = image.shape[:2]
    data = {"images": [{"id": 1, "file_name": "1.jpg", "width": width, "height": height}],
            "categories": [{"id": 1, "name": "thing"}],
            "annotations": [{"id": k + 1, "image_id": 1, "category_id": 1, "bbox": box, "area": box[2] * box[3],
                             "iscrowd": 0} for k, box in enumerate(boxes)]}
    ann = root / "ann.json"
    ann.write_text(json.dumps(data))
    return ann, images


def reference_val_transform(path, size: int) -> torch.Tensor:
    """The reference's test-time input, written with OpenCV directly."""
    rgb = cv2.imread(str(path))[:, :, ::-1]
    resized = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    normalised = (resized - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return torch.from_numpy(normalised).permute(2, 0, 1)


def test_opencv_linear_is_the_references_val_transform(tmp_path):
    ann, images = write_split(tmp_path, textured(90, 150), [[10, 20, 60, 30]])
    dataset = DetectionDataset(CocoDataset(ann, images), train=False, img_size=64, resize="stretch",
                               test_interp="opencv_linear")
    image, target, meta = dataset[0]
    expected = reference_val_transform(images / "1.jpg", 64)
    assert torch.allclose(image, expected, atol=1e-5)
    assert meta["scale"] == (64 / 150, 64 / 90) and meta["pad"] == (0, 0)
    # The boxes follow the same geometry as under torchvision's resize.
    sx, sy = meta["scale"]
    assert target[0, 1:5].tolist() == pytest.approx([10 * sx, 20 * sy, 70 * sx, 50 * sy], abs=1e-4)


def test_torchvision_resize_antialiases_and_the_kernels_differ(tmp_path):
    """A 4x downscale: the two kernels give different inputs (so the key changes AP), with the
    same meta; torchvision's is the smoother one."""
    ann, images = write_split(tmp_path, textured(256, 256, seed=1), [[10, 20, 60, 30]])
    source = CocoDataset(ann, images)
    ours, target_ours, meta_ours = DetectionDataset(source, train=False, img_size=64, resize="letterbox")[0]
    theirs, target_theirs, meta_theirs = DetectionDataset(source, train=False, img_size=64, resize="letterbox",
                                                          test_interp="opencv_linear")[0]
    assert meta_ours == meta_theirs and torch.allclose(target_ours, target_theirs)
    assert (ours - theirs).abs().max() > 0.1
    assert ours.diff(dim=-1).abs().mean() < theirs.diff(dim=-1).abs().mean()


def test_letterbox_with_opencv_keeps_the_letterbox_geometry():
    image = torch.from_numpy(textured(30, 60)).permute(2, 0, 1).contiguous()
    boxes = to_boxes(torch.tensor([[0.0, 0.0, 60.0, 30.0]]), 30, 60)
    resized, moved, scale, pad = resize_for_test(image, boxes, 64, "letterbox", "opencv_linear")
    assert resized.shape == (3, 64, 64) and resized.dtype == torch.uint8
    assert (scale, pad) == (64 / 60, (0, 16))
    assert moved.tolist() == [[0.0, 16.0, 64.0, 48.0]]
    assert (resized[:, :16] == 114).all() and (resized[:, 48:] == 114).all()  # the letterbox fill


def test_both_decoders_give_the_same_upright_pixels(tmp_path):
    """PIL and OpenCV decode a JPEG alike and both apply the EXIF orientation."""
    raw = Image.fromarray(textured(30, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to view
    raw.save(tmp_path / "r.jpg", quality=90, exif=exif)
    pil = np.asarray(load_rgb(tmp_path / "r.jpg", 1))
    opencv = np.asarray(load_rgb(tmp_path / "r.jpg", 1, decoder="opencv"))
    assert pil.shape == opencv.shape == (40, 30, 3)
    assert np.array_equal(pil, opencv)


def test_opencv_decoder_errors_name_the_file(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(UserError, match=r"bad\.jpg: cannot read image \(image id 7\)"):
        load_rgb(tmp_path / "bad.jpg", 7, decoder="opencv")
    with pytest.raises(UserError, match=r"missing\.jpg: image file not found \(image id 7\)"):
        load_rgb(tmp_path / "missing.jpg", 7, decoder="opencv")
    with pytest.raises(ValueError, match="test_interp"):
        decoder_of("bicubic")


def test_preprocess_test_image_follows_the_kernel():
    image = torch.from_numpy(textured(100, 100, seed=2)).permute(2, 0, 1).contiguous()
    _, shown, meta = preprocess_test_image(image, 32, "stretch", "opencv_linear")
    expected = cv2.resize(image.permute(1, 2, 0).numpy(), (32, 32), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(shown.permute(1, 2, 0).numpy(), expected)
    assert meta == {"orig_size": (100, 100), "scale": (0.32, 0.32), "pad": (0, 0)}


def test_the_recipe_reaches_the_val_loader_and_the_hash():
    reference = compose_config(["recipe=reference", "model=tiny", "data=synth"])
    assert data_settings(reference).test_interp == "opencv_linear"
    default = compose_config(["model=tiny", "data=synth"])
    assert data_settings(default).test_interp == "torchvision"
    # Added after runs were recorded: at its default it leaves the hash as it was.
    without = OmegaConf.to_container(default, resolve=True)
    del without["recipe"]["test_interp"]
    assert experiment_hash(without, "cpu") == experiment_hash(default, "cpu")
    flipped = compose_config(["model=tiny", "data=synth", "recipe.test_interp=opencv_linear"])
    assert experiment_hash(flipped, "cpu") != experiment_hash(default, "cpu")
