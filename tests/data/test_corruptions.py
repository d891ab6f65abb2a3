"""COCO-C corruptions on the test-time pipeline: every one changes the image, the same
(seed, image, corruption, severity) gives the same pixels, and the boxes never move."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asffbench.corruptions import (ALL, BENCHMARK, FAMILIES, HELD_OUT, SEVERITIES, Corruption, family_of, grid,
                                   parse_corruptions, parse_severities)
from asffbench.data.corrupt_image import corrupt_image
from asffbench.data.dataset import DetectionDataset
from asffbench.data.test_time import resize_for_test
from asffbench.data.transforms import normalize, to_boxes, to_float01
from asffbench.errors import UserError

pytest.importorskip("imagecorruptions")

# Glass blur compiles its pixel shuffle with numba on first use (~10 s on one core).
SLOW = {"glass_blur"}


def photo(seed: int = 0, height: int = 72, width: int = 96) -> np.ndarray:
    """A smooth image with edges (the blurs and JPEG act on structure, not on flat colour)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([(x * 255 / width), (y * 255 / height), ((x + y) % 32) * 8], axis=-1)
    image[20:50, 30:70] = rng.integers(0, 255, 3)
    return image.astype(np.uint8)


def params(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


def test_catalogue_is_the_papers() -> None:
    assert len(BENCHMARK) == 15 and len(ALL) == 19
    assert set(HELD_OUT) == {"speckle_noise", "gaussian_blur", "spatter", "saturate"}
    assert sorted(FAMILIES) == ["blur", "digital", "noise", "weather"]
    assert all(family_of(name) in FAMILIES for name in ALL)
    # The names are the package's own, in its order.
    imagecorruptions = pytest.importorskip("imagecorruptions")
    assert tuple(imagecorruptions.get_corruption_names("all")) == ALL


@pytest.mark.parametrize("name", params(ALL))
def test_every_severity_changes_the_image_and_repeats_exactly(name: str) -> None:
    image = photo()
    for severity in SEVERITIES:
        corruption = Corruption(name, severity)
        out = corrupt_image(image, corruption, seed=0, image_id=7)
        assert out.shape == image.shape and out.dtype == np.uint8
        assert np.any(out != image), f"{corruption.cell} left the image unchanged"
        assert np.array_equal(out, corrupt_image(image, corruption, seed=0, image_id=7)), corruption.cell


def test_the_seed_covers_image_and_eval_seed_and_leaves_numpys_global_state() -> None:
    image, noise = photo(), Corruption("gaussian_noise", 3)
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    first = corrupt_image(image, noise, seed=0, image_id=1)
    assert np.random.random() == before  # the caller's global generator is untouched
    assert not np.array_equal(first, corrupt_image(image, noise, seed=0, image_id=2))
    assert not np.array_equal(first, corrupt_image(image, noise, seed=1, image_id=1))
    assert not np.array_equal(first, corrupt_image(image, Corruption("gaussian_noise", 4), seed=0, image_id=1))


class Photos:
    """A two-image source with boxes (the `CocoDataset` interface the test pipeline reads)."""

    image_ids = [11, 12]
    boxes = np.array([[10.0, 8.0, 60.0, 40.0], [5.0, 30.0, 90.0, 70.0]], dtype=np.float32)

    def __len__(self) -> int:
        return 2

    def load_image(self, index: int, decoder: str = "pil"):
        from PIL import Image

        return Image.fromarray(photo(index))

    def targets(self, index: int, include_crowd: bool = False):
        return self.boxes.copy(), np.array([0, 1], dtype=np.int64)


def test_the_test_time_pipeline_corrupts_before_the_resize_and_keeps_the_boxes() -> None:
    clean = DetectionDataset(Photos(), train=False, img_size=64, min_box_size=1.0)
    fog = DetectionDataset(Photos(), train=False, img_size=64, min_box_size=1.0, corruption=Corruption("fog", 3))
    for index in range(2):
        image, target, meta = clean[index]
        foggy, foggy_target, foggy_meta = fog[index]
        assert torch.equal(target, foggy_target) and meta == foggy_meta
        assert not torch.equal(image, foggy)
        again, _, _ = fog[index]
        assert torch.equal(foggy, again)
    # Corrupted before the resize: the item is the test-time resize of the corrupted decoded image.
    corrupted = corrupt_image(photo(0), Corruption("fog", 3), seed=0, image_id=11)
    tensor = torch.from_numpy(corrupted).permute(2, 0, 1).contiguous()
    resized, _, _, _ = resize_for_test(tensor, to_boxes(torch.zeros(0, 4), 72, 96), 64, "letterbox", "torchvision")
    assert torch.equal(fog[0][0], normalize(to_float01(resized.as_subclass(torch.Tensor))))


def test_a_training_dataset_refuses_a_corruption() -> None:
    with pytest.raises(ValueError, match="test-time"):
        DetectionDataset(Photos(), train=True, img_size=64, corruption=Corruption("fog", 1))


def test_corruption_and_severity_lists() -> None:
    assert parse_corruptions("benchmark") == BENCHMARK and parse_corruptions("all") == ALL
    assert parse_corruptions("fog, snow,fog") == ("fog", "snow")
    assert parse_severities("1-5") == SEVERITIES and parse_severities("5,1,3") == (1, 3, 5)
    assert [c.cell for c in grid(["fog", "snow"], [1, 2])] == ["fog-1", "fog-2", "snow-1", "snow-2"]
    with pytest.raises(UserError, match="unknown corruption blur.*gaussian_noise, shot_noise"):
        parse_corruptions("fog,blur")
    for bad in ("0-2", "6", "x", ""):
        with pytest.raises(UserError, match="integers in 1-5"):
            parse_severities(bad)


def test_without_the_extra_it_is_one_line_naming_it(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "imagecorruptions", None)  # what a missing package looks like to import
    with pytest.raises(UserError, match=r"eval.corruption=fog: needs the 'imagecorruptions' package; .*asffbench\[robust\]"):
        corrupt_image(photo(), Corruption("fog", 1), seed=0, image_id=1)


@pytest.mark.slow  # a fresh interpreter importing torch
def test_cv2_and_the_corruptions_import_together_in_a_fresh_process() -> None:
    """asffbench's OpenCV (headless) and the extra's (GUI build) share the `cv2` folder: whichever
    build's files are there, asffbench's data layer and the package load and run side by side."""
    import subprocess
    import sys

    code = ("import cv2, numpy as np; from asffbench.data import dataset; import imagecorruptions; "
            "out = imagecorruptions.corrupt(np.full((40, 40, 3), 128, np.uint8), 2, 'jpeg_compression'); "
            "print(cv2.__version__, out.shape)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("(40, 40, 3)")
