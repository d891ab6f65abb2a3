"""State dicts in ultralytics' YOLOv8 layout through weights/: detected by their names, renamed,
fit-checked; another class count or scale refused in one line; `weights convert` writes an
asffbench checkpoint with the same weights."""

from __future__ import annotations

import pytest
import torch

from asffbench.build_yolov8 import build_yolov8
from asffbench.engine.checkpoint import load_checkpoint
from asffbench.errors import UserError
from asffbench.weights.load import load_weights
from asffbench.weights.ultralytics_layout import NoUltralyticsLayout, ultralytics_names
from tests.models.yolov8_oracle import oracle_model, randomized

SMALL = ("model=yolov8", "model.num_classes=3", "device=cpu")


def saved_oracle(tmp_path, scale="n", num_classes=3):
    path = tmp_path / f"yolov8{scale}_{num_classes}.pt"
    torch.save(randomized(oracle_model(scale, num_classes)).state_dict(), path)
    return path


@pytest.mark.parametrize("scale,num_classes,words", [
    ("n", 80, "the file has 80 classes, the configured model 3 (model.num_classes)"),
    ("s", 3, "the file has 32 stem channels (another model.scale or model.width), the configured model 16"),
])
def test_another_class_count_or_scale_is_refused_in_one_line(tmp_path, scale, num_classes, words):
    path = saved_oracle(tmp_path, scale, num_classes)
    with pytest.raises(UserError) as err:
        load_weights(build_yolov8(scale="n", num_classes=3), path)
    assert words in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_only_the_family_pafpn_has_the_layout(tmp_path):
    with pytest.raises(NoUltralyticsLayout):
        ultralytics_names(build_yolov8(scale="n", fusion="asff_pan"))
    with pytest.raises(UserError, match="cannot take ultralytics weights"):
        load_weights(build_yolov8(scale="n", num_classes=3, fusion="asff"), saved_oracle(tmp_path))


def test_convert_writes_the_same_weights_as_an_asffbench_checkpoint(tmp_path, cli):
    source = saved_oracle(tmp_path)
    out = tmp_path / "converted.pt"
    code, stdout, err = cli("weights", "convert", str(source), "--out", str(out), *SMALL)
    assert code == 0, err
    assert "from ultralytics weights" in stdout
    state = load_checkpoint(out)
    assert state["converted_from"]["format"] == "ultralytics"
    direct, via_checkpoint = build_yolov8(num_classes=3), build_yolov8(num_classes=3)
    load_weights(direct, source)
    assert load_weights(via_checkpoint, out).format == "asffbench"
    assert all(torch.equal(a, b) for a, b in zip(direct.state_dict().values(), via_checkpoint.state_dict().values()))
