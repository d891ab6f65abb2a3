"""The synthetic tiny COCO: determinism, content, cache and its CLI."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from PIL import Image

from asffbench.data.coco import CocoDataset
from asffbench.data.split_stats import split_stats
from asffbench.data.synth import SynthParams, ensure_synth, generate_synth
from asffbench.data.synth_draw import CLASS_NAMES
from asffbench.errors import UserError
from tests.conftest import assert_one_line_error

SMALL = SynthParams(images=24, val_fraction=0.25, seed=3, image_size=192)


@pytest.fixture(scope="module")
def default_synth(tmp_path_factory) -> Path:
    """The default dataset (160 images of 320 px), generated once for this module."""
    return generate_synth(tmp_path_factory.mktemp("synth") / "default", SynthParams())


def test_same_seed_gives_byte_identical_annotations(tmp_path):
    a = generate_synth(tmp_path / "a", SMALL)
    b = generate_synth(tmp_path / "b", SMALL)
    c = generate_synth(tmp_path / "c", SynthParams(images=24, val_fraction=0.25, seed=4, image_size=192))
    for split in ("train", "val"):
        name = f"instances_{split}.json"
        assert (a / name).read_bytes() == (b / name).read_bytes()
        assert (a / name).read_bytes() != (c / name).read_bytes()
    assert (a / "train" / "000001.jpg").read_bytes() == (b / "train" / "000001.jpg").read_bytes()


def test_default_dataset_has_every_class_and_size_range(default_synth):
    train = CocoDataset(default_synth / "instances_train.json", default_synth / "train")
    val = CocoDataset(default_synth / "instances_val.json", default_synth / "val")
    assert (len(train), len(val)) == (120, 40)
    assert train.class_names == list(CLASS_NAMES) and 6 <= len(CLASS_NAMES) <= 8
    for source in (train, val):
        stats = split_stats(source)
        assert all(count > 0 for count in stats["classes"].values()), stats
        # Each COCO size range well represented, in both splits.
        assert all(count >= 10 for count in stats["boxes_by_size"].values()), stats
        assert stats["crowd"] == 0
        assert stats["boxes"] >= 3 * len(source)  # several objects per image on average


def test_annotations_match_images(default_synth):
    data = json.loads((default_synth / "instances_train.json").read_text())
    by_id = {image["id"]: image for image in data["images"]}
    assert len({a["id"] for a in data["annotations"]}) == len(data["annotations"])
    overlapping = 0
    for image in data["images"][:20]:
        with Image.open(default_synth / "train" / image["file_name"]) as im:
            assert im.size == (image["width"], image["height"]) == (320, 320)
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        image = by_id[ann["image_id"]]
        assert 0 <= x and 0 <= y and x + w <= image["width"] and y + h <= image["height"]
        assert 0 < ann["area"] <= w * h and ann["iscrowd"] == 0
    # Objects overlap now and then (occlusion), within an image.
    boxes: dict = {}
    for ann in data["annotations"]:
        boxes.setdefault(ann["image_id"], []).append(ann["bbox"])
    for group in boxes.values():
        for i, (x1, y1, w1, h1) in enumerate(group):
            for x2, y2, w2, h2 in group[i + 1 :]:
                overlapping += min(x1 + w1, x2 + w2) > max(x1, x2) and min(y1 + h1, y2 + h2) > max(y1, y2)
    assert overlapping >= 10


def test_objects_are_drawn_where_annotated(default_synth):
    """Inside a box the object differs from the background around it."""
    data = json.loads((default_synth / "instances_val.json").read_text())
    import numpy as np

    image = data["images"][0]
    pixels = np.asarray(Image.open(default_synth / "val" / image["file_name"]).convert("RGB"), dtype=float)
    anns = [a for a in data["annotations"] if a["image_id"] == image["id"]]
    assert anns
    ann = max(anns, key=lambda a: a["area"])
    x, y, w, h = (int(v) for v in ann["bbox"])
    inside = pixels[y : y + h, x : x + w].reshape(-1, 3)
    assert inside.std(axis=0).sum() > 5.0  # object over background: not a flat patch


def test_ensure_synth_caches_by_parameters_and_survives_a_race(tmp_path):
    results: list[Path] = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            results.append(ensure_synth(SMALL, str(tmp_path)))
        except BaseException as err:  # noqa: BLE001 - collected and re-checked below
            errors.append(err)

    threads = [threading.Thread(target=job) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    root = results[0]
    assert root.parent == tmp_path and root.name == SMALL.key()
    assert [p.name for p in tmp_path.iterdir()] == [root.name]  # losers cleaned up
    stamp = (root / "instances_train.json").stat().st_mtime_ns
    assert ensure_synth(SMALL, str(tmp_path)) == root
    assert (root / "instances_train.json").stat().st_mtime_ns == stamp  # reused, not regenerated
    other = SynthParams(images=24, val_fraction=0.25, seed=3, image_size=224)
    assert ensure_synth(other, str(tmp_path)) != root


def test_cache_dir_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ASFFBENCH_CACHE", str(tmp_path / "env-cache"))
    assert ensure_synth(SMALL).parent == tmp_path / "env-cache"


def test_bad_parameters_are_user_errors():
    with pytest.raises(UserError, match="data.synth.image_size"):
        SynthParams(image_size=64).check()
    with pytest.raises(UserError, match="data.synth.images"):
        SynthParams(images=1).check()


def test_cli_synth_writes_dataset(cli, tmp_path):
    code, out, err = cli("data", "synth", "--out", str(tmp_path / "ds"), "--images", "8", "--size", "160")
    assert code == 0, err
    assert "6 train + 2 val" in out
    train = json.loads((tmp_path / "ds" / "instances_train.json").read_text())
    assert len(train["images"]) == 6 and len(list((tmp_path / "ds" / "train").glob("*.jpg"))) == 6


def test_cli_synth_refuses_non_empty_out(cli, tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "keep.txt").write_text("mine")
    code, _, err = cli("data", "synth", "--out", str(tmp_path / "ds"), "--images", "4")
    assert_one_line_error(code, err, str(tmp_path / "ds"), "--out")
    assert (tmp_path / "ds" / "keep.txt").read_text() == "mine"


def test_cli_synth_rejects_tiny_size(cli, tmp_path):
    code, _, err = cli("data", "synth", "--out", str(tmp_path / "ds"), "--size", "32")
    assert_one_line_error(code, err, "image_size=32")
    assert not (tmp_path / "ds").exists()
