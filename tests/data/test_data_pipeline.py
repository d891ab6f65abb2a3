"""Transforms, mixup, multi-scale batching and the loaders: boxes stay on their objects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from asffbench.config.compose import compose_config
from asffbench.data.loaders import build_train_loader, build_val_loader
from asffbench.settings import data_settings, train_data_settings
from asffbench.data.coco import CocoDataset
from asffbench.data.dataset import DetectionDataset, collate
from asffbench.data.mixup import mixup
from asffbench.data.sampler import DetectionBatchSampler, SampleKey, ScaleSchedule
from asffbench.data.transforms import IMAGENET_MEAN, IMAGENET_STD, PAD_VALUE, letterbox, to_boxes
from asffbench.errors import UserError

# Two images (200 x 120 and 120 x 160), black, each with white rectangles at known boxes.
BOXES = {1: [(30, 20, 90, 60, 0)], 2: [(10, 100, 50, 150, 1), (70, 10, 110, 40, 2)]}
SIZES = {1: (200, 120), 2: (120, 160)}


@pytest.fixture
def rectangles(tmp_path) -> tuple[Path, Path]:
    images, anns = [], []
    for image_id, (w, h) in SIZES.items():
        canvas = Image.new("RGB", (w, h), (0, 0, 0))
        for x1, y1, x2, y2, label in BOXES[image_id]:
            canvas.paste((255, 255, 255), (x1, y1, x2, y2))
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": label + 1,
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
        (tmp_path / "img").mkdir(exist_ok=True)
        canvas.save(tmp_path / "img" / f"{image_id}.png")
        images.append({"id": image_id, "file_name": f"{image_id}.png", "width": w, "height": h})
    cats = [{"id": k + 1, "name": f"c{k}"} for k in range(3)]
    (tmp_path / "ann.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return tmp_path / "ann.json", tmp_path / "img"


def denormalize(image: torch.Tensor) -> np.ndarray:
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    return (image * std + mean).mean(0).numpy()  # grey level in 0..1


def bright_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """Box (x1, y1, x2, y2) of the white object's pixels. The expand fill can be brightened to
    2/3 of the white level by the photometric distortion, and the object dimmed to just above
    the (undistorted) letterbox grey, hence the threshold."""
    threshold = max(grey.min() + 0.8 * (grey.max() - grey.min()), PAD_VALUE / 255 + 0.03)
    ys, xs = np.nonzero(grey > threshold)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def test_letterbox_keeps_aspect_and_pads_centrally():
    image = torch.zeros(3, 100, 200, dtype=torch.uint8)
    boxes = to_boxes(torch.tensor([[20.0, 10.0, 60.0, 50.0]]), 100, 200)
    out, out_boxes, scale, (left, top) = letterbox(image, boxes, 128)
    assert out.shape == (3, 128, 128) and scale == pytest.approx(0.64)
    assert (left, top) == (0, 32)
    assert out[:, :32].eq(PAD_VALUE).all() and out[:, 32:96].eq(0).all() and out[:, 96:].eq(PAD_VALUE).all()
    torch.testing.assert_close(out_boxes.as_subclass(torch.Tensor), torch.tensor([[12.8, 38.4, 38.4, 64.0]]))


def test_val_sample_maps_back_to_original_within_a_pixel(rectangles):
    source = CocoDataset(*rectangles)
    dataset = DetectionDataset(source, train=False, img_size=96)
    for index, image_id in enumerate(source.image_ids):
        image, target, meta = dataset[index]
        assert image.shape == (3, 96, 96)
        assert meta["image_id"] == image_id and meta["orig_size"] == SIZES[image_id][::-1]
        left, top = meta["pad"]
        back = (target[:, 1:5] - torch.tensor([left, top, left, top])) / meta["scale"]
        expected = torch.tensor([b[:4] for b in BOXES[image_id]], dtype=torch.float32)
        assert (back - expected).abs().max() <= 1.0
        assert target[:, 0].tolist() == [b[4] for b in BOXES[image_id]]
        # and the pixels agree: the first rectangle is where its box says
        grey = denormalize(image)
        x1, y1, x2, y2 = (int(round(v)) for v in target[0, 1:5].tolist())
        assert grey[y1 + 1 : y2 - 1, x1 + 1 : x2 - 1].min() > 0.9


def test_train_augmentation_keeps_boxes_on_their_objects(rectangles):
    """Over many random draws (zoom-out, IoU crop, flip, photometric), the single white
    rectangle of image 1 stays exactly inside its box; flips happen."""
    source = CocoDataset(*rectangles)
    dataset = DetectionDataset(source, train=True, img_size=128, min_box_size=2, seed=0)
    flipped = changed = 0
    for epoch in range(24):
        image, target, meta = dataset[SampleKey(0, 128, epoch, False)]
        assert image.shape == (3, 128, 128) and target.shape[1] == 6
        if len(target) == 0:
            continue
        assert len(target) == 1 and target[0, 5] == 1.0
        box = target[0, 1:5].numpy()
        found = np.array(bright_box(denormalize(image)))
        assert np.abs(found - box).max() <= 1.5, (epoch, found, box)
        centre = (box[0] + box[2]) / 2
        flipped += centre > 64  # the rectangle starts left of centre
        changed += abs((box[2] - box[0]) - 60 * 128 / 200) > 1  # zoomed or cropped
    assert flipped > 0 and changed > 0


def test_min_box_size_drops_small_boxes(rectangles):
    source = CocoDataset(*rectangles)
    # At 32 px image 2 (scale 0.2) keeps its 8 x 10 box but its 8 x 6 box falls under 7 px.
    _, target, _ = DetectionDataset(source, train=False, img_size=32, min_box_size=7)[1]
    assert target[:, 0].tolist() == [1.0]


def test_mixup_blends_images_and_weights_boxes():
    a, b = torch.full((3, 8, 8), 0.2), torch.full((3, 8, 8), 0.8)
    ta = torch.tensor([[0.0, 1, 1, 4, 4, 1.0]])
    tb = torch.tensor([[2.0, 2, 2, 6, 6, 1.0], [1.0, 0, 0, 3, 3, 1.0]])
    image, target = mixup(a, ta, b, tb, 0.3)
    torch.testing.assert_close(image, torch.full((3, 8, 8), 0.3 * 0.2 + 0.7 * 0.8))
    assert target[:, 0].tolist() == [0.0, 2.0, 1.0]
    torch.testing.assert_close(target[:, 5], torch.tensor([0.3, 0.7, 0.7]))
    with pytest.raises(ValueError):
        mixup(a, ta, torch.zeros(3, 4, 4), tb, 0.5)


def test_dataset_mixup_keeps_both_label_sets(rectangles):
    source = CocoDataset(*rectangles)
    dataset = DetectionDataset(source, train=True, img_size=128, min_box_size=1, seed=0, mixup_prob=1.0)
    mixed = 0
    for epoch in range(12):
        _, target, _ = dataset[SampleKey(0, 128, epoch, True)]
        weights = sorted(set(target[:, 5].tolist()))
        assert all(0.0 < w <= 1.0 for w in weights)
        if len(weights) == 2:
            mixed += 1
            assert sum(weights) == pytest.approx(1.0)
            own = target[target[:, 5] == target[0, 5], 0].tolist()
            other = target[target[:, 5] != target[0, 5], 0].tolist()
            assert set(own) == {0.0} and set(other) <= {1.0, 2.0} and other
    assert mixed >= 6
    _, target, _ = dataset[SampleKey(0, 128, 0, False)]
    assert target[:, 5].eq(1.0).all()


def test_scale_schedule_changes_every_n_iters_and_freezes_at_the_end():
    schedule = ScaleSchedule(img_size=256, enabled=True, every=3, min_size=128, max_size=320,
                             fixed_epochs=2, epochs=5, seed=0)
    sizes = schedule.sizes(0, 30)
    groups = [sizes[i : i + 3] for i in range(0, 30, 3)]
    assert all(len(set(g)) == 1 for g in groups)
    assert len({g[0] for g in groups}) > 1
    assert set(sizes) <= {128, 160, 192, 224, 256, 288, 320}
    assert schedule.sizes(0, 30) == sizes  # deterministic from seed + epoch
    assert schedule.sizes(1, 30) != sizes
    assert schedule.sizes(3, 30) == [256] * 30 and schedule.sizes(4, 7) == [256] * 7
    assert ScaleSchedule(img_size=256, enabled=False).sizes(0, 5) == [256] * 5


def test_scale_schedule_rejects_bad_sizes():
    with pytest.raises(UserError, match="img_size=100"):
        ScaleSchedule(img_size=100).check()
    with pytest.raises(UserError, match="train.multiscale_min"):
        ScaleSchedule(img_size=256, enabled=True, min_size=330, max_size=350).check()
    with pytest.raises(UserError, match="train.multiscale_min=-64"):
        ScaleSchedule(img_size=256, enabled=True, min_size=-64, max_size=128).check()


def test_batch_sampler_shards_across_ranks_and_reshuffles_per_epoch():
    schedule = ScaleSchedule(img_size=64)
    samplers = [DetectionBatchSampler(10, 2, schedule, seed=1, rank=r, world_size=2) for r in range(2)]
    seen = [[k.index for batch in s for k in batch] for s in samplers]
    assert sorted(seen[0] + seen[1]) == list(range(10))
    single = DetectionBatchSampler(10, 4, schedule, seed=1, drop_last=True)
    assert len(single) == 2
    first = [k.index for batch in single for k in batch]
    single.set_epoch(1)
    assert [k.index for batch in single for k in batch] != first
    assert len(DetectionBatchSampler(3, 8, schedule, drop_last=True)) == 1  # never empty


def synth_cfg(*extra: str):
    return compose_config([
        "model=tiny", "data.synth.images=16", "data.synth.image_size=160", "img_size=128",
        "train.batch_size=4", "eval.batch_size=4", "data.workers=0", "train.epochs=4",
        "train.multiscale_min=64", "train.multiscale_max=192", "train.multiscale_every=1",
        "train.multiscale_fixed_epochs=1", "train.mixup_off_epochs=1", *extra,
    ])


def test_train_loader_batches_follow_the_contract():
    loader = build_train_loader(train_data_settings(synth_cfg()))
    assert len(loader) == 3 and len(loader.dataset) == 12
    sizes = {}
    for epoch in (0, 3):
        loader.set_epoch(epoch)
        for images, targets, metas in loader:
            assert images.dtype == torch.float32 and images.shape[:2] == (4, 3)
            assert images.shape[2] == images.shape[3] and images.shape[2] % 32 == 0
            sizes.setdefault(epoch, set()).add(images.shape[2])
            assert targets.shape[1] == 7 and len(metas) == 4
            assert set(targets[:, 0].long().tolist()) <= {0, 1, 2, 3}
            assert ((targets[:, 1] >= 0) & (targets[:, 1] < 6)).all()
            assert (targets[:, 4] > targets[:, 2]).all() and (targets[:, 5] > targets[:, 3]).all()
            assert (targets[:, 2:6] >= 0).all() and (targets[:, 2:6] <= images.shape[2]).all()
    assert sizes[3] == {128}  # fixed in the last epoch
    loader.set_epoch(0)
    weights = torch.cat([t[:, 6] for _, t, _ in loader])
    assert (weights < 1).any()  # mixup on early
    loader.set_epoch(3)
    assert all(t[:, 6].eq(1).all() for _, t, _ in loader)  # and off for the last epoch


def test_train_loader_tricks_off():
    loader = build_train_loader(train_data_settings(synth_cfg("tricks=none")))
    loader.set_epoch(0)
    for images, targets, _ in loader:
        assert images.shape[2] == 128 and targets[:, 6].eq(1).all()


def test_max_iters_caps_the_epoch():
    assert len(build_train_loader(train_data_settings(synth_cfg("train.max_iters_per_epoch=2")))) == 2


@pytest.mark.parametrize(
    "override, needle",
    [
        ("train.max_iters_per_epoch=-1", "train.max_iters_per_epoch=-1"),
        ("train.batch_size=0", "train.batch_size=0"),
        ("data.workers=-1", "data.workers=-1"),
    ],
)
def test_bad_loader_settings_fail_before_the_dataset_loads(override, needle, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("the dataset was loaded before the config was checked")

    monkeypatch.setattr("asffbench.data.loaders.load_split", no_loading)
    with pytest.raises(UserError, match=needle):
        build_train_loader(train_data_settings(synth_cfg(override)))


def test_no_pinned_memory_for_device_cpu(monkeypatch):
    from asffbench.data.loaders import wants_pin_memory

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert not wants_pin_memory(data_settings(synth_cfg("device=cpu")).device)
    assert wants_pin_memory(data_settings(synth_cfg("device=auto")).device)


def test_val_loader_is_ordered_and_unaugmented():
    loader, dataset = build_val_loader(data_settings(synth_cfg()))
    assert dataset.class_names[0] == "circle" and dataset.label_to_cat_id == [1, 2, 3, 4, 5, 6]
    ids = [m["image_id"] for _, _, metas in loader for m in metas]
    assert ids == dataset.image_ids
    first = next(iter(loader))
    again = next(iter(loader))
    torch.testing.assert_close(first[0], again[0])
    assert first[0].shape[2:] == (128, 128) and first[1][:, 6].eq(1).all()
    assert first[2][0]["scale"] == pytest.approx(0.8) and first[2][0]["pad"] == (0, 0)


@pytest.mark.slow
def test_batches_do_not_depend_on_worker_count():
    batches = {}
    for workers in (0, 2):
        loader = build_train_loader(train_data_settings(synth_cfg(f"data.workers={workers}", "train.max_iters_per_epoch=2")))
        loader.set_epoch(1)
        batches[workers] = list(loader)
        loader.set_epoch(1)
        batches[f"{workers}-again"] = list(loader)  # persistent workers: same epoch, same batches
    for key in ("0-again", 2, "2-again"):
        for (im0, t0, m0), (im1, t1, m1) in zip(batches[0], batches[key]):
            torch.testing.assert_close(im0, im1)
            torch.testing.assert_close(t0, t1)
            assert m0 == m1


def test_sampling_leaves_the_global_rng_alone(rectangles):
    dataset = DetectionDataset(CocoDataset(*rectangles), train=True, img_size=64, seed=0)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    collate([dataset[SampleKey(0, 64, 0, True)], dataset[SampleKey(1, 64, 0, True)]])
    torch.testing.assert_close(torch.rand(3), expected)
    assert torch.get_num_threads() == threads  # per-sample single threading is undone
