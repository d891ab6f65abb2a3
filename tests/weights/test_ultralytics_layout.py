"""State dicts in ultralytics' YOLOv8 layout through weights/: detected by their names, renamed,
fit-checked; another class count or scale refused in one line; `weights convert` writes an
asffbench checkpoint with the same weights."""

from __future__ import annotations

from copy import deepcopy

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
    ("n", 80, "holds 80 classes; the config builds 3 classes"),
    ("s", 3, "its stem has 32 channels, the configured model's 16 (another model.scale or model.width)"),
])
def test_another_class_count_or_scale_is_refused_in_one_line(tmp_path, scale, num_classes, words):
    path = saved_oracle(tmp_path, scale, num_classes)
    with pytest.raises(UserError) as err:
        load_weights(build_yolov8(scale="n", num_classes=3), path)
    assert words in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_only_the_family_pafpn_has_the_layout(tmp_path):
    with pytest.raises(NoUltralyticsLayout):
        ultralytics_names(build_yolov8(scale="n", fusion="asff_pan"))
    with pytest.raises(UserError, match="does not take ultralytics' layout: ultralytics' YOLOv8 has no ASFF"):
        load_weights(build_yolov8(scale="n", num_classes=3, fusion="asff"), saved_oracle(tmp_path))


def test_convert_writes_the_same_weights_as_an_asffbench_checkpoint(tmp_path, cli):
    source = saved_oracle(tmp_path)
    out = tmp_path / "converted.pt"
    code, stdout, err = cli("weights", "convert", str(source), "--out", str(out), *SMALL)
    assert code == 0, err
    assert "from ultralytics-layout state dict weights" in stdout
    state = load_checkpoint(out)
    assert state["converted_from"]["format"] == "ultralytics-layout state dict"
    direct, via_checkpoint = build_yolov8(num_classes=3), build_yolov8(num_classes=3)
    load_weights(direct, source)
    assert load_weights(via_checkpoint, out).format == "asffbench"
    assert all(torch.equal(a, b) for a, b in zip(direct.state_dict().values(), via_checkpoint.state_dict().values()))


def test_a_release_written_by_ultralytics_loads_and_gives_its_outputs(tmp_path, cli):
    """A yolov8n saved as ultralytics releases its models (its trainer's checkpoint through its
    own `strip_optimizer`: the half-precision model pickled) gives the oracle's raw outputs in
    model=yolov8, directly and after `weights convert`."""
    utils = pytest.importorskip("ultralytics.utils")
    torch_utils = pytest.importorskip("ultralytics.utils.torch_utils")
    oracle = randomized(oracle_model("n")).half().float().eval()  # what half precision keeps
    oracle.args = utils.IterableSimpleNamespace(**utils.DEFAULT_CFG_DICT)
    last, release = tmp_path / "last.pt", tmp_path / "yolov8n.pt"
    torch.save({"epoch": 1, "model": None, "ema": deepcopy(oracle).half(), "updates": 1, "optimizer": None,
                "train_args": dict(utils.DEFAULT_CFG_DICT)}, last)
    torch_utils.strip_optimizer(last, release)
    ours = build_yolov8(scale="n").eval()
    assert load_weights(ours, release).format == "ultralytics release"
    images = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        _, raw = oracle(images)
        levels = list(reversed(ours(images).levels))
    flat = torch.cat([level.pred.flatten(2) for level in levels], dim=2)
    expected = torch.cat([raw["boxes"], raw["scores"]], dim=1)
    torch.testing.assert_close(flat, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())
    out = tmp_path / "converted.pt"
    code, _, err = cli("weights", "convert", str(release), "--out", str(out), "model=yolov8", "device=cpu")
    assert code == 0, err
    converted = build_yolov8(scale="n")
    load_weights(converted, out)
    assert all(torch.equal(a, b) for a, b in zip(converted.state_dict().values(), ours.state_dict().values()))
