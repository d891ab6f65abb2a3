"""data=voc: the VOCdevkit reader, its coordinates, its one-line errors and `data check`."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from asffbench.config.compose import compose_config
from asffbench.data.dataset import DetectionDataset
from asffbench.data.sources import load_source
from asffbench.data.voc import VOC_CLASSES, voc_box
from asffbench.engine.postprocess import boxes_to_original
from asffbench.errors import UserError
from asffbench.settings import data_source
from tests.data.voc_sets import xml_text


def data_cfg(root: Path, *extra: str):
    return data_source(compose_config(["data=voc", f"data.root={root}", *extra]))


def test_default_splits_read_both_years(tiny_voc):
    train = load_source(data_cfg(tiny_voc), "train")
    val = load_source(data_cfg(tiny_voc), "val")
    assert train.class_names == list(VOC_CLASSES)
    assert [i["voc_id"] for i in train.images] == ["VOC2007/000001", "VOC2007/000002", "VOC2012/2012_000001"]
    assert [i["voc_id"] for i in val.images] == ["VOC2007/000003", "VOC2007/000001"]
    first = train.images[0]
    assert (first["width"], first["height"], first["file_name"]) == (160, 96, "VOC2007/JPEGImages/000001.jpg")
    assert train.load_image(0).size == (160, 96)


def test_one_based_corners_become_continuous_and_difficult_is_crowd(tiny_voc):
    train = load_source(data_cfg(tiny_voc), "train")
    anns = train.coco.imgToAnns[1]
    cat, dog = sorted(anns, key=lambda a: a["id"])
    assert cat["bbox"] == [10.0, 20.0, 60.0, 60.0]  # xmin 11..xmax 70 inclusive: 60 px wide
    assert (cat["difficult"], cat["iscrowd"]) == (0, 0)
    assert (dog["difficult"], dog["iscrowd"]) == (1, 1)
    assert voc_box(cat["bbox"]) == (11.0, 21.0, 70.0, 80.0)
    boxes, labels = train.targets(0)  # the difficult dog is no training target
    assert boxes.tolist() == [[10.0, 20.0, 70.0, 80.0]] and labels.tolist() == [VOC_CLASSES.index("cat")]


def test_chosen_sets_and_classes(tiny_voc):
    cfg = data_cfg(tiny_voc, "data.train.sets=[[2012,trainval]]", "data.classes=[bird,cat,dog]")
    train = load_source(cfg, "train")
    assert train.class_names == ["bird", "cat", "dog"]
    assert [i["voc_id"] for i in train.images] == ["VOC2012/2012_000001"]
    assert train.targets(0)[1].tolist() == [0]


def test_val_boxes_round_trip_to_the_original_image(tiny_voc):
    val = load_source(data_cfg(tiny_voc), "val")
    # 144 px -> 48 scales by exactly 1/3 on both axes: no rounding of the resized width.
    dataset = DetectionDataset(val, train=False, img_size=48)
    _, target, meta = dataset[0]  # the 96x144 (portrait) image
    back = boxes_to_original(target[:, 1:5], meta)
    expected = torch.tensor([[19.0, 29.0, 80.0, 130.0], [4.0, 4.0, 20.0, 25.0]])
    assert torch.allclose(back, expected, atol=1e-3)
    voc = [[round(v, 3) for v in voc_box([x1, y1, x2 - x1, y2 - y1])] for x1, y1, x2, y2 in back.tolist()]
    assert voc == [[20, 30, 80, 130], [5, 5, 20, 25]]  # the XML's own numbers


def write_xml(root: Path, text: str, voc_id: str = "000002") -> Path:
    path = root / "VOC2007" / "Annotations" / f"{voc_id}.xml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "xml, needle",
    [
        ("<annotation><size><width>10", "malformed XML"),
        ("<annotation><object><name>cat</name></object></annotation>", "no <size>"),
        (xml_text("x.jpg", (128, 128), [("unicorn", 1, 1, 5, 5, 0)]), "class 'unicorn' is not in data.classes"),
        (xml_text("x.jpg", (128, 128), [("cat", 1, 1, 129, 5, 0)]), "outside the 128x128 image"),
        (xml_text("x.jpg", (128, 128), [("cat", -2, 1, 20, 5, 0)]), "outside the 128x128 image"),
        (xml_text("x.jpg", (0, 128), []), "not positive"),
        (xml_text("x.jpg", (128, 128), []).replace("<size>", "<size><x/>").replace("<width>128</width>", "<width>a</width>"),
         "<width> is 'a'"),
    ],
)
def test_bad_annotations_name_the_file(tiny_voc, xml, needle):
    path = write_xml(tiny_voc, xml)
    with pytest.raises(UserError) as err:
        load_source(data_cfg(tiny_voc), "train")
    assert str(path) in str(err.value) and needle in str(err.value)


def test_degenerate_boxes_are_skipped_with_a_warning(tiny_voc, caplog):
    write_xml(tiny_voc, xml_text("000002.jpg", (128, 128), [("cat", 30, 1, 20, 5, 0), ("dog", 1, 1, 9, 9, 0)]))
    with caplog.at_level(logging.WARNING):
        train = load_source(data_cfg(tiny_voc), "train")
    assert len(train.coco.imgToAnns[2]) == 1
    assert "skipped 1 object(s) with a degenerate box" in caplog.text


def test_missing_files_name_the_file(tiny_voc):
    (tiny_voc / "VOC2007" / "JPEGImages" / "000002.jpg").unlink()
    with pytest.raises(UserError, match=r"000002\.jpg: image file not found \(for .*000002\.xml\)"):
        load_source(data_cfg(tiny_voc), "train")
    (tiny_voc / "VOC2007" / "Annotations" / "000003.xml").unlink()
    with pytest.raises(UserError, match=r"000003\.xml: annotation file not found"):
        load_source(data_cfg(tiny_voc), "val")
    with pytest.raises(UserError, match=r"VOC2012.*test\.txt: split file not found"):
        load_source(data_cfg(tiny_voc, "data.val.sets=[[2012,test]]"), "val")


@pytest.mark.parametrize(
    "override, needle",
    [
        ("data.train.sets=[2007]", "each set is [year or folder, split]"),
        ("data.train.sets=[]", "empty"),
        ("data.train.sets=[[2007,trainval],[2007,trainval]]", "listed twice"),
        ("data.classes=[cat,cat]", "each named once"),
    ],
)
def test_bad_set_options(tiny_voc, override, needle):
    with pytest.raises(UserError) as err:
        load_source(data_cfg(tiny_voc, override), "train")
    assert needle in str(err.value)


def test_data_check_prints_each_split(cli, tiny_voc, one_line_error):
    code, out, err = cli("data", "check", "data=voc", f"data.root={tiny_voc}", "model.num_classes=20")
    assert code == 0, err
    train, val = out.strip().splitlines()
    assert train.startswith("train: 3 images (0 without boxes), 3 boxes") and "1 difficult" in train
    assert val.startswith("val: 2 images (0 without boxes), 3 boxes") and "1 difficult" in val
    one_line_error(*cli("data", "check", "data=voc")[::2], "data.root: required for data=voc")
    one_line_error(*cli("data", "check", "data=voc", f"data.root={tiny_voc / 'nope'}")[::2], "directory not found")


def test_voc_subset_is_reproducible_and_readable(cli, tiny_voc, tmp_path, one_line_error):
    out = tmp_path / "sub"
    code, _, err = cli("data", "subset", "--voc", str(tiny_voc), "--set", "2007:trainval", "--set", "2012:trainval",
                       "--n", "2", "--seed", "3", "--out", str(out))
    assert code == 0, err
    again = tmp_path / "again"
    assert cli("data", "subset", "--voc", str(tiny_voc), "--set", "2007:trainval", "--set", "2012:trainval",
               "--n", "2", "--seed", "3", "--out", str(again))[0] == 0
    listed = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert listed == sorted(str(p.relative_to(again)) for p in again.rglob("*") if p.is_file())
    assert len([p for p in listed if p.endswith(".xml")]) == 2
    years = [s for s in ("VOC2007", "VOC2012") if (out / s / "ImageSets" / "Main" / "trainval.txt").is_file()]
    sets = "[" + ",".join(f"[{y[3:]},trainval]" for y in years) + "]"
    train = load_source(data_cfg(out, f"data.train.sets={sets}"), "train")
    assert len(train) == 2
    one_line_error(*cli("data", "subset", "--voc", str(tiny_voc), "--n", "9", "--out", str(tmp_path / "x"))[::2],
                   "--n 9", "only 2 images")
    one_line_error(*cli("data", "subset", "--voc", str(tiny_voc), "--set", "2012:test", "--n", "1",
                        "--out", str(tmp_path / "y"))[::2], "split file not found")
    one_line_error(*cli("data", "subset", "--n", "1", "--out", str(tmp_path / "z"))[::2], "--ann and --images")


def test_synthetic_voc_matches_the_synthetic_coco(cli, tmp_path):
    code, out, err = cli("data", "synth", "--voc", "--images", "6", "--size", "160", "--out", str(tmp_path / "v"))
    assert code == 0, err
    assert "data=voc data.root=" in out
    cfg = data_cfg(tmp_path / "v", "data.classes=[circle,square,triangle,star,cross,ring]")
    voc_train = load_source(cfg, "train")
    coco_train = load_source(data_source(compose_config(["data.synth.images=6", "data.synth.image_size=160"])), "train")
    assert len(voc_train) == len(coco_train)
    voc_boxes, voc_labels = voc_train.targets(0)  # VOC2007 gets the first synthetic image
    coco_boxes, coco_labels = coco_train.targets(0)
    assert voc_labels.tolist() == coco_labels.tolist()
    assert abs(voc_boxes - coco_boxes).max() <= 0.5  # rounded to whole pixels
