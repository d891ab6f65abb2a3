"""ultralytics' checkpoints read without ultralytics and without running pickled code.

The files are written by ultralytics 8.4.190 itself (the dev extra's oracle): a training
checkpoint as its trainer saves one ("model" None, the half-precision EMA under "ema") and the
release its `strip_optimizer` makes of it ("model" the half-precision model, "ema" None), which is
the format of `yolov8n.pt` and the other released files.
"""

from __future__ import annotations

import os
import sys
from copy import deepcopy
from pathlib import Path

import pytest
import torch

from asffbench.errors import UserError
from asffbench.weights.formats import (
    ASFFBENCH,
    REFERENCE,
    ULTRALYTICS_RELEASE,
    ULTRALYTICS_STATE_DICT,
    read_weights_file,
)
from asffbench.weights.ultralytics_checkpoint import UltralyticsCheckpoint, read_ultralytics_checkpoint
from asffbench.weights.ultralytics_pickle import InertModule, read_ultralytics_pickle

from .conftest import TINY, as_reference, randomized

pytest.importorskip("ultralytics")
from ultralytics.nn.tasks import DetectionModel  # noqa: E402 - the oracle, after the skip

from .ultralytics_files import trainer_checkpoint, write_release  # noqa: E402 - imports ultralytics

NAMES = {i: f"class{i}" for i in range(80)}


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """(yolov8n with random weights and BN statistics, its training checkpoint, its release)."""
    torch.manual_seed(0)
    model = randomized(DetectionModel("yolov8n.yaml", nc=80, verbose=False))
    last, release = write_release(model, tmp_path_factory.mktemp("ultralytics"), NAMES)
    return model, last, release


def half_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict as a half-precision file holds it, read back as float32."""
    return {k: (v.half().float() if v.is_floating_point() else v) for k, v in model.state_dict().items()}


def assert_same_tensors(found: dict, expected: dict) -> None:
    assert list(found) == list(expected)  # the names and the order of ultralytics' state_dict()
    for key, value in expected.items():
        assert found[key].dtype == (torch.float32 if value.is_floating_point() else value.dtype), key
        assert torch.equal(found[key], value), key


def test_release_gives_ultralytics_state_dict_and_facts(oracle):
    model, _, release = oracle
    checkpoint = read_ultralytics_checkpoint(release, "model.weights=yolov8n.pt")
    assert_same_tensors(checkpoint.state_dict, half_state(model))
    assert "model.22.dfl.conv.weight" in checkpoint.state_dict and len(checkpoint.state_dict) == 355
    assert (checkpoint.num_classes, checkpoint.scale, checkpoint.epoch) == (80, "n", -1)
    assert checkpoint.yaml["nc"] == 80 and checkpoint.yaml["scales"]["s"] == [0.33, 0.50, 1024]
    assert checkpoint.names == tuple(NAMES.values())
    assert checkpoint.released and not checkpoint.ema_used and checkpoint.version == "8.4.190"


def test_training_checkpoint_uses_its_ema(oracle, tmp_path):
    model, last, _ = oracle
    checkpoint = read_ultralytics_checkpoint(last, "last.pt")
    assert checkpoint.ema_used and checkpoint.epoch == 7
    assert_same_tensors(checkpoint.state_dict, half_state(model))
    # Both set: the EMA wins, as ultralytics loads them.
    other = randomized(deepcopy(model), seed=3)
    torch.save({"model": deepcopy(other).half(), "ema": deepcopy(model).half()}, tmp_path / "both.pt")
    assert_same_tensors(read_ultralytics_checkpoint(tmp_path / "both.pt", "both").state_dict, half_state(model))


def test_state_dict_in_ultralytics_layout(oracle, tmp_path):
    model, _, _ = oracle
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    checkpoint = read_ultralytics_checkpoint(tmp_path / "sd.pt", "sd.pt")
    assert_same_tensors(checkpoint.state_dict, model.state_dict())
    assert (checkpoint.num_classes, checkpoint.scale, checkpoint.released) == (80, None, False)
    assert read_weights_file(tmp_path / "sd.pt", "sd.pt").kind == ULTRALYTICS_STATE_DICT


def test_what_a_file_is(oracle, tiny_model, tmp_path):
    _, last, release = oracle
    assert read_weights_file(release, "r").describe() == "ultralytics release: scale n with 80 classes"
    assert read_weights_file(last, "r").kind == ULTRALYTICS_RELEASE
    ours = tiny_model()
    torch.save(ours.state_dict(), tmp_path / "ours.pt")
    assert read_weights_file(tmp_path / "ours.pt", "o").kind == ASFFBENCH
    assert read_weights_file(as_reference(ours, tmp_path / "ref.pth"), "ref").kind == REFERENCE
    with pytest.raises(UserError, match=r"^o: not in ultralytics' layout \(tensor backbone\."):
        read_ultralytics_checkpoint(tmp_path / "ours.pt", "o")


def test_scale_or_class_mismatch_is_one_line(oracle):
    checkpoint = read_ultralytics_checkpoint(oracle[2], "model.weights=yolov8n.pt")
    checkpoint.check_builds("n", 80, "model.weights=yolov8n.pt")
    with pytest.raises(UserError) as err:
        checkpoint.check_builds("s", 10, "model.weights=yolov8n.pt")
    assert str(err.value) == "model.weights=yolov8n.pt holds scale n with 80 classes; the config builds scale s with 10 classes"
    with pytest.raises(UserError, match=r"holds scale n with 80 classes; the config builds scale m with 80"):
        checkpoint.check_builds("m", 80, "w")
    unscaled = UltralyticsCheckpoint(state_dict={}, num_classes=80)  # a bare state dict does not say its scale
    unscaled.check_builds("s", 80, "w")
    with pytest.raises(UserError, match=r"^w holds 80 classes; the config builds scale s with 3 classes$"):
        unscaled.check_builds("s", 3, "w")


def test_read_without_ultralytics(oracle, monkeypatch):
    """No ultralytics module is imported or needed: every one of them made unimportable."""
    for name in [name for name in sys.modules if name == "ultralytics" or name.startswith("ultralytics.")]:
        monkeypatch.setitem(sys.modules, name, None)
    checkpoint = read_ultralytics_checkpoint(oracle[2], "r")
    assert checkpoint.num_classes == 80 and len(checkpoint.state_dict) == 355


class RunsAShellCommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class WritesAFile:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


@pytest.mark.parametrize("payload, named", [(RunsAShellCommand, f"{os.system.__module__}.system"),
                                            (WritesAFile, "builtins.exec")])
def test_crafted_pickle_is_refused_and_runs_nothing(oracle, tmp_path, cli, one_line_error, payload, named):
    marker = tmp_path / "ran"
    torch.save({"epoch": -1, "model": deepcopy(oracle[0]).half(), "ema": None,
                "train_args": {"callback": payload(marker)}}, tmp_path / "crafted.pt")
    assert not marker.exists()
    with pytest.raises(UserError) as err:
        read_ultralytics_checkpoint(tmp_path / "crafted.pt", "model.weights=crafted.pt")
    assert str(err.value).startswith(f"model.weights=crafted.pt: refused: the file names {named}")
    assert "\n" not in str(err.value)
    crafted_path = str(tmp_path / "crafted.pt")
    one_line_error(*cli("weights", "convert", crafted_path, "--out", str(tmp_path / "x.pt"), *TINY)[::2],
                   crafted_path, named)
    assert not marker.exists() and not (tmp_path / "x.pt").exists()


def test_unknown_class_is_refused_naming_it(oracle, tmp_path):
    model = deepcopy(oracle[0])
    model.model.append(torch.nn.Linear(2, 2))  # a layer no YOLOv8 detection model has
    trainer_checkpoint(model, tmp_path / "other.pt")
    with pytest.raises(UserError, match=r"^other: refused: the file names torch\.nn\.modules\.linear\.Linear, "):
        read_ultralytics_checkpoint(tmp_path / "other.pt", "other")


def test_yolov3_model_refuses_ultralytics_files_in_one_line(oracle, tmp_path, cli, one_line_error):
    release = str(oracle[2])
    one_line_error(*cli("weights", "convert", release, "--out", str(tmp_path / "x.pt"), *TINY)[::2],
                   release, "ultralytics release: scale n with 80 classes", "does not take ultralytics' layout")


def test_classes_registered_elsewhere_stay_inert(oracle):
    """A name another library admitted for torch (ultralytics' own restricted loading does) is
    still an inert holder here, and what it registered is back afterwards."""
    torch.serialization.add_safe_globals([DetectionModel])
    try:
        before = torch.serialization.get_safe_globals()
        model = read_ultralytics_pickle(oracle[2], "r")["model"]
        assert isinstance(model, InertModule) and not isinstance(model, torch.nn.Module)
        assert sorted(map(str, torch.serialization.get_safe_globals())) == sorted(map(str, before))
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals([g for g in before if g is not DetectionModel])


def test_a_broken_module_tree_is_one_line(oracle, tmp_path):
    model = deepcopy(oracle[0]).half()
    model.model[0].conv.__dict__["_parameters"] = ["not", "a", "mapping"]
    torch.save({"model": model, "ema": None}, tmp_path / "broken.pt")
    with pytest.raises(UserError, match=r"^b: the pickled model's model\.0\.conv has no _parameters mapping$"):
        read_ultralytics_checkpoint(tmp_path / "broken.pt", "b")
