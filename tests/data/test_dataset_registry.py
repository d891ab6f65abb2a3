"""The dataset registry: one entry per `data.name`, unknown and duplicate names refused."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from asffbench.config.compose import compose_config
from asffbench.data.sources import DATASETS, CocoFiles, DatasetKind, DatasetRegistry, check_source_paths, load_source
from asffbench.errors import UserError
from asffbench.settings import data_source, eval_metric


def test_every_config_option_has_an_entry_and_its_metric():
    assert DATASETS.names() == ["coco", "folder", "synth", "voc", "voc_synth"]
    for kind in DATASETS:
        cfg = compose_config([f"data={kind.name}"])
        assert cfg.data.name == kind.name
        assert eval_metric(cfg) == kind.default_metric == ("voc" if kind.name.startswith("voc") else "coco")
    assert [k.name for k in DATASETS if k.needs_root] == ["coco", "voc"]


def test_unknown_and_duplicate_names_are_refused():
    with pytest.raises(UserError, match="^data.name=kitti: unknown dataset kind; choose from coco, folder, synth, voc, voc_synth$"):
        DATASETS.get("kitti")
    registry = DatasetRegistry()
    registry.add(DatasetKind("mine", CocoFiles(lambda source, split: ("a.json", "img"))))
    with pytest.raises(ValueError, match="'mine' is already registered"):
        registry.add(DatasetKind("mine", CocoFiles(lambda source, split: ("b.json", "img"))))


def test_a_new_format_is_one_entry(tmp_path, monkeypatch):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"")  # only its presence is checked when the split loads
    (tmp_path / "val.json").write_text('{"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}], '
                                       '"annotations": [], "categories": [{"id": 1, "name": "x"}]}')
    registry = DatasetRegistry()
    for kind in DATASETS:
        registry.add(kind)
    registry.add(DatasetKind("mine", CocoFiles(lambda source, split: (tmp_path / f"{split}.json", tmp_path / "img"))))
    monkeypatch.setattr("asffbench.data.sources.DATASETS", registry)
    data = replace(data_source(compose_config(["data=folder"])), name="mine")
    assert load_source(data, "val").class_names == ["x"]
    with pytest.raises(UserError, match="train.json: annotation file not found"):
        check_source_paths(data, "train")


def test_root_messages_come_from_the_entry():
    with pytest.raises(UserError, match=r"^data.root: required for data=coco \(the COCO 2017 folder"):
        check_source_paths(data_source(compose_config(["data=coco"])), "val")
    with pytest.raises(UserError, match=r"^data.root: required for data=voc \(the VOCdevkit folder"):
        check_source_paths(data_source(compose_config(["data=voc"])), "val")
    with pytest.raises(UserError, match=r"^data.val.ann: required for data=folder"):
        check_source_paths(data_source(compose_config(["data=folder"])), "val")


def test_the_registry_imports_no_torch():
    code = "import sys; import asffbench.data.sources, asffbench.results.report.methods; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_coco_split_paths_are_under_data_root_and_test_dev_is_a_test_split(tmp_path, monkeypatch):
    """`data=coco data.val.ann=annotations/image_info_test-dev2017.json data.val.images=test2017`:
    relative paths are in the COCO folder; the image-info file (no `annotations` key) loads as
    a test split, an annotation file with an empty list as an annotated one."""
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "test2017").mkdir()
    (root / "test2017" / "a.jpg").write_bytes(b"")
    info = {"images": [{"id": 7, "file_name": "a.jpg", "width": 4, "height": 4}],
            "categories": [{"id": 1, "name": "x"}]}
    (root / "annotations" / "image_info_test-dev2017.json").write_text(json.dumps(info))
    (root / "annotations" / "empty.json").write_text(json.dumps({**info, "annotations": []}))
    monkeypatch.chdir(tmp_path)  # not the folder the relative paths are read from
    test_dev = ["data=coco", f"data.root={root}", "data.val.ann=annotations/image_info_test-dev2017.json",
                "data.val.images=test2017"]
    split = load_source(data_source(compose_config(test_dev)), "val")
    assert split.ann_file == root / "annotations" / "image_info_test-dev2017.json"
    assert split.annotated is False and split.image_ids == [7]
    empty = load_source(data_source(compose_config([*test_dev, "data.val.ann=annotations/empty.json"])), "val")
    assert empty.annotated is True
    absolute = [*test_dev, f"data.val.ann={root / 'annotations' / 'empty.json'}"]
    assert load_source(data_source(compose_config(absolute)), "val").ann_file == root / "annotations" / "empty.json"
    with pytest.raises(UserError, match=f"^{root / 'annotations' / 'nope.json'}: annotation file not found"):
        check_source_paths(data_source(compose_config([*test_dev, "data.val.ann=annotations/nope.json"])), "val")
