"""COCO-format datasets: conventions, image modes and every bad input (library and CLI)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from asffbench.config.compose import compose_config
from asffbench.data.loaders import build_train_loader, build_val_loader
from asffbench.settings import data_settings, train_data_settings
from asffbench.data.coco import CocoDataset
from asffbench.errors import UserError
from tests.conftest import assert_one_line_error


def write_image(path: Path, size=(40, 30), colour=(200, 40, 40), mode="RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).convert(mode).save(path)


def coco_dict(images=2, annotations=None, categories=None) -> dict:
    return {
        "images": [{"id": i + 1, "file_name": f"{i + 1}.png", "width": 40, "height": 30} for i in range(images)],
        "annotations": annotations if annotations is not None else [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [2, 3, 10, 8], "area": 80, "iscrowd": 0},
        ],
        "categories": categories if categories is not None else [
            {"id": 7, "name": "cat"}, {"id": 3, "name": "dog"},
        ],
    }


def write_dataset(root: Path, data: dict, text: str | None = None) -> tuple[Path, Path]:
    images = root / "images"
    for image in data.get("images", []):
        write_image(images / image["file_name"])
    images.mkdir(parents=True, exist_ok=True)
    ann = root / "ann.json"
    ann.write_text(text if text is not None else json.dumps(data, indent=1))
    return ann, images


def folder_cfg(ann: Path, images: Path, *extra: str):
    return compose_config([
        "data=folder", f"data.train.ann={ann}", f"data.train.images={images}",
        f"data.val.ann={ann}", f"data.val.images={images}", "data.workers=0", "img_size=64",
        "train.batch_size=2", "eval.batch_size=2", *extra,
    ])


def test_contiguous_labels_sorted_by_category_id(tmp_path):
    source = CocoDataset(*write_dataset(tmp_path, coco_dict()))
    assert source.label_to_cat_id == [3, 7]
    assert source.class_names == ["dog", "cat"]
    boxes, labels = source.targets(0)
    np.testing.assert_allclose(boxes, [[2, 3, 12, 11]])  # xywh -> xyxy
    assert labels.tolist() == [1]


def test_negatives_kept_and_crowd_excluded_from_targets(tmp_path):
    anns = [
        {"id": 1, "image_id": 1, "category_id": 7, "bbox": [2, 3, 10, 8], "area": 80, "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 3, "bbox": [20, 5, 12, 12], "area": 144, "iscrowd": 1},
    ]
    ann, images = write_dataset(tmp_path, coco_dict(images=3, annotations=anns))
    loader, dataset = build_val_loader(data_settings(folder_cfg(ann, images)))
    assert len(dataset) == 3  # images 2 and 3 have no annotations: kept as negatives
    assert len(dataset.coco.getAnnIds(imgIds=[1], iscrowd=None)) == 2  # crowd stays for COCOeval
    batches = list(loader)
    targets = torch.cat([b[1] for b in batches])
    metas = [m for b in batches for m in b[2]]
    assert [m["image_id"] for m in metas] == [1, 2, 3]
    assert targets.shape == (1, 7)  # only the non-crowd box of image 1
    assert targets[0, :2].tolist() == [0.0, 1.0] and targets[0, 6] == 1.0


def test_missing_iscrowd_and_area_are_filled(tmp_path):
    anns = [{"id": 5, "image_id": 2, "category_id": 3, "bbox": [1, 1, 4, 5]}]
    source = CocoDataset(*write_dataset(tmp_path, coco_dict(annotations=anns)))
    ann = source.coco.anns[5]
    assert ann["iscrowd"] == 0 and ann["area"] == 20


def test_degenerate_boxes_are_skipped_with_one_warning(tmp_path, caplog):
    anns = [
        {"id": 1, "image_id": 1, "category_id": 7, "bbox": [2, 3, 10, 8]},
        {"id": 41, "image_id": 1, "category_id": 7, "bbox": [2, 3, 0, 8]},
        {"id": 42, "image_id": 2, "category_id": 3, "bbox": [2, 3, 5, -1]},
    ]
    ann, images = write_dataset(tmp_path, coco_dict(annotations=anns))
    with caplog.at_level(logging.WARNING, logger="asffbench.data.coco"):
        source = CocoDataset(ann, images)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(ann) in warnings[0] and "2 annotation(s)" in warnings[0] and "41" in warnings[0]
    assert sorted(source.coco.anns) == [1]
    assert len(source.targets(1)[0]) == 0


@pytest.mark.parametrize(
    "mode,colour", [("L", (90, 90, 90)), ("RGBA", (10, 200, 30)), ("P", (200, 40, 40)), ("CMYK", (0, 0, 255))]
)
def test_image_modes_load_as_rgb(tmp_path, mode, colour):
    ann, images = write_dataset(tmp_path, coco_dict(images=1))
    path = images / "1.png" if mode != "CMYK" else images / "1.jpg"
    if mode == "CMYK":
        data = coco_dict(images=1)
        data["images"][0]["file_name"] = "1.jpg"
        ann.write_text(json.dumps(data))
    write_image(path, colour=colour, mode=mode)
    image = CocoDataset(ann, images).load_image(0)
    assert image.mode == "RGB" and image.size == (40, 30)
    got = np.asarray(image)[15, 20].astype(int)
    expected = np.asarray(Image.new("RGB", (1, 1), colour).convert(mode).convert("RGB"))[0, 0].astype(int)
    assert np.abs(got - expected).max() <= 3


def test_exif_rotated_image_is_loaded_upright(tmp_path):
    """Stored 30 wide x 40 high with orientation 6 (rotate 90 clockwise to view): 40 x 30 upright."""
    ann, images = write_dataset(tmp_path, coco_dict(images=1))
    raw = Image.new("RGB", (30, 40), (0, 0, 0))
    raw.paste((255, 255, 255), (0, 0, 30, 10))  # white band along the stored top edge
    exif = Image.Exif()
    exif[0x0112] = 6
    raw.save(images / "1.png", exif=exif)
    image = np.asarray(CocoDataset(ann, images).load_image(0)).astype(int)
    assert image.shape == (30, 40, 3)
    # Rotated clockwise, the stored top edge becomes the right edge.
    assert image[:, -5:].mean() > 240 and image[:, :25].mean() < 15


# ----------------------------------------------------------------------------- bad input


def bad_dataset(tmp_path: Path, case: str) -> tuple[Path, Path, tuple[str, ...]]:
    """Write a broken dataset; return (ann, images, strings the one-line error must contain)."""
    data = coco_dict()
    if case == "malformed_json":
        ann, images = write_dataset(tmp_path, data, text='{\n  "images": [\n    {"id": 1,,}\n  ]\n}\n')
        return ann, images, (str(ann), "malformed JSON", "line 3")
    if case == "missing_image":
        ann, images = write_dataset(tmp_path, data)
        (images / "2.png").unlink()
        return ann, images, (str(images / "2.png"), "image id 2", "not found")
    if case == "unknown_image":
        data["annotations"].append({"id": 77, "image_id": 99, "category_id": 7, "bbox": [1, 1, 2, 2]})
        ann, images = write_dataset(tmp_path, data)
        return ann, images, (str(ann), "annotation id 77", "image_id 99")
    if case == "unknown_category":
        data["annotations"].append({"id": 78, "image_id": 1, "category_id": 12, "bbox": [1, 1, 2, 2]})
        ann, images = write_dataset(tmp_path, data)
        return ann, images, (str(ann), "annotation id 78", "category_id 12")
    if case == "bad_bbox":
        data["annotations"].append({"id": 79, "image_id": 1, "category_id": 7, "bbox": [1, 1, "x", 2]})
        ann, images = write_dataset(tmp_path, data)
        return ann, images, (str(ann), "annotation id 79", "bbox")
    if case in FIELD_TYPE_CASES:
        record_kind, key, value = FIELD_TYPE_CASES[case]
        if record_kind == "image":
            data["images"][1][key] = value
            ann, images = write_dataset(tmp_path, data)
            return ann, images, (str(ann), "image id 2", f"'{key}' {value!r}")
        data["annotations"].append({"id": 80, "image_id": 1, "category_id": 7, "bbox": [1, 1, 2, 2], key: value})
        ann, images = write_dataset(tmp_path, data)
        return ann, images, (str(ann), "annotation id 80", f"'{key}' {value!r}")
    if case == "empty":
        ann, images = write_dataset(tmp_path, coco_dict(images=0, annotations=[]))
        return ann, images, (str(ann), "no images")
    if case == "no_categories":
        ann, images = write_dataset(tmp_path, coco_dict(annotations=[], categories=[]))
        return ann, images, (str(ann), "categories")
    if case == "not_coco":
        ann, images = write_dataset(tmp_path, data, text="[1, 2, 3]")
        return ann, images, (str(ann), "not a COCO annotation file")
    if case == "unreadable_image":
        ann, images = write_dataset(tmp_path, data)
        (images / "1.png").write_bytes(b"not an image at all")
        return ann, images, (str(images / "1.png"), "image id 1", "cannot read image")
    raise AssertionError(case)


# Wrongly typed fields the loaders read: case -> (record kind, key, value).
FIELD_TYPE_CASES = {
    "string_area": ("annotation", "area", "12"),
    "negative_area": ("annotation", "area", -4),
    "string_iscrowd": ("annotation", "iscrowd", "0"),
    "iscrowd_two": ("annotation", "iscrowd", 2),
    "string_image_id": ("annotation", "image_id", "1"),
    "float_category_id": ("annotation", "category_id", 7.0),
    "string_width": ("image", "width", "40"),
    "zero_height": ("image", "height", 0),
}
LOAD_TIME_CASES = [
    "malformed_json", "missing_image", "unknown_image", "unknown_category", "bad_bbox", "empty",
    "no_categories", "not_coco", *FIELD_TYPE_CASES,
]


@pytest.mark.parametrize("case", LOAD_TIME_CASES)
def test_bad_dataset_raises_one_line_user_error(tmp_path, case):
    ann, images, needles = bad_dataset(tmp_path, case)
    with pytest.raises(UserError) as info:
        CocoDataset(ann, images)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


@pytest.mark.parametrize("case", LOAD_TIME_CASES)
def test_cli_data_check_reports_bad_dataset(cli, tmp_path, case):
    ann, images, needles = bad_dataset(tmp_path, case)
    code, _, err = cli(
        "data", "check", "data=folder", f"data.train.ann={ann}", f"data.train.images={images}",
        f"data.val.ann={ann}", f"data.val.images={images}",
    )
    assert_one_line_error(code, err, *needles)


@pytest.mark.parametrize("case", ["malformed_json", "missing_image", "unknown_image", "empty"])
def test_cli_subset_reports_bad_dataset(cli, tmp_path, case):
    ann, images, needles = bad_dataset(tmp_path, case)
    n = "2" if case != "empty" else "1"
    code, _, err = cli("data", "subset", "--ann", str(ann), "--images", str(images),
                       "--out", str(tmp_path / "out"), "--n", n)
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "out").exists()


def test_unreadable_image_fails_in_a_worker_with_one_line(tmp_path):
    ann, images, needles = bad_dataset(tmp_path, "unreadable_image")
    loader = build_train_loader(train_data_settings(folder_cfg(ann, images, "data.workers=1", "tricks.mixup=false")))
    loader.set_epoch(0)
    with pytest.raises(UserError) as info:
        list(loader)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_cli_data_check_prints_statistics(cli, tmp_path):
    ann, images = write_dataset(tmp_path, coco_dict(images=3))
    code, out, err = cli("data", "check", "data=folder", f"data.train.ann={ann}",
                         f"data.train.images={images}", f"data.val.ann={ann}", f"data.val.images={images}", "--json")
    assert code == 0, err
    stats = json.loads(out)
    assert stats["train"]["images"] == 3 and stats["train"]["negatives"] == 2
    assert stats["val"]["classes"] == {"dog": 0, "cat": 1}
    assert stats["val"]["annotated"] is True


def test_cli_data_check_names_a_test_split(cli, tmp_path):
    ann, images = write_dataset(tmp_path, coco_dict(images=3))
    info = tmp_path / "image_info_test.json"
    info.write_text(json.dumps({k: v for k, v in coco_dict(images=3).items() if k != "annotations"}))
    code, out, err = cli("data", "check", "data=folder", f"data.train.ann={ann}",
                         f"data.train.images={images}", f"data.val.ann={info}", f"data.val.images={images}")
    assert code == 0, err
    val = next(line for line in out.splitlines() if line.startswith("val:"))
    assert "3 images, a test split" in val and "no annotations" in val and str(info) in val


@pytest.mark.parametrize(
    "overrides,needle",
    [
        (["data=coco"], "data.root"),
        (["data=folder"], "data.train.ann"),
        (["data=coco", "data.root=/nonexistent/coco"], "data.root"),
    ],
)
def test_cli_data_paths_missing(cli, overrides, needle):
    code, _, err = cli("data", "check", *overrides)
    assert_one_line_error(code, err, needle)


def test_coco_layout_under_data_root(tmp_path):
    data = coco_dict()
    root = tmp_path / "coco"
    for split in ("train", "val"):
        for image in data["images"]:
            write_image(root / f"{split}2017" / image["file_name"])
    (root / "annotations").mkdir()
    for split in ("train", "val"):
        (root / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(data))
    cfg = compose_config(["data=coco", f"data.root={root}", "data.workers=0", "img_size=64"])
    _, dataset = build_val_loader(data_settings(cfg))
    assert dataset.source.ann_file == root / "annotations" / "instances_val2017.json"
    assert dataset.class_names == ["dog", "cat"]


def test_too_few_model_classes_is_a_user_error(tmp_path):
    ann, images = write_dataset(tmp_path, coco_dict())
    with pytest.raises(UserError, match="model.num_classes=1"):
        build_val_loader(data_settings(folder_cfg(ann, images, "model.num_classes=1")))
