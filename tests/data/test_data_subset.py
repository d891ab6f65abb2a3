"""`asffbench data subset`: a reproducible N-image subset with its annotations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asffbench.data.coco import CocoDataset
from asffbench.data.synth import SynthParams, generate_synth
from tests.conftest import assert_one_line_error


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return generate_synth(tmp_path_factory.mktemp("subset") / "synth", SynthParams(images=16, image_size=160))


def run_subset(cli, source: Path, out: Path, *extra: str) -> dict:
    code, stdout, err = cli("data", "subset", "--ann", str(source / "instances_train.json"),
                            "--images", str(source / "train"), "--out", str(out), *extra)
    assert code == 0, err
    assert str(out / "instances_train.json") in stdout
    return json.loads((out / "instances_train.json").read_text())


def test_subset_is_reproducible_and_complete(cli, source, tmp_path):
    full = json.loads((source / "instances_train.json").read_text())
    first = run_subset(cli, source, tmp_path / "a", "--n", "5", "--seed", "1")
    again = run_subset(cli, source, tmp_path / "b", "--n", "5", "--seed", "1", "--link")
    other = run_subset(cli, source, tmp_path / "c", "--n", "5", "--seed", "2")
    ids = [image["id"] for image in first["images"]]
    assert len(ids) == 5 == len(set(ids))
    assert ids == [image["id"] for image in again["images"]]
    assert ids != [image["id"] for image in other["images"]]
    assert first["categories"] == full["categories"]
    expected = [a for a in full["annotations"] if a["image_id"] in set(ids)]
    assert first["annotations"] == expected and expected
    for image in first["images"]:
        copied = tmp_path / "a" / "images" / image["file_name"]
        linked = tmp_path / "b" / "images" / image["file_name"]
        assert copied.is_file() and not copied.is_symlink()
        assert linked.is_symlink() and linked.resolve() == (source / "train" / image["file_name"]).resolve()
        assert copied.read_bytes() == (source / "train" / image["file_name"]).read_bytes()
    loaded = CocoDataset(tmp_path / "a" / "instances_train.json", tmp_path / "a" / "images")
    assert len(loaded) == 5


def test_subset_rejects_too_many_images(cli, source, tmp_path):
    code, _, err = cli("data", "subset", "--ann", str(source / "instances_train.json"),
                       "--images", str(source / "train"), "--out", str(tmp_path / "o"), "--n", "1000")
    assert_one_line_error(code, err, "--n 1000", "only 12 images")
    assert not (tmp_path / "o").exists()
