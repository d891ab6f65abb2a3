"""The one reader (`read_torch_file`), the one "is this a state dict" test and the one fit check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import asffbench
from asffbench.errors import UserError
from asffbench.weights.read import check_fits, is_state_dict, read_torch_file, state_dict_of

PACKAGE = Path(asffbench.__file__).parent


def test_torch_load_is_called_in_one_place():
    callers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if "torch.load(" in p.read_text())
    assert callers == ["weights/read.py"]


def test_read_refuses_missing_truncated_and_code(tmp_path):
    with pytest.raises(UserError, match=r"^opt=x: no such file$"):
        read_torch_file(tmp_path / "x.pt", "opt=x")
    torch.save({"w": torch.ones(3)}, tmp_path / "ok.pt")
    assert torch.equal(read_torch_file(tmp_path / "ok.pt", "ok")["w"], torch.ones(3))
    (tmp_path / "cut.pt").write_bytes((tmp_path / "ok.pt").read_bytes()[:40])
    with pytest.raises(UserError, match=r"^cut: not a readable weights file \(truncated"):
        read_torch_file(tmp_path / "cut.pt", "cut")
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "code.pt")  # a pickled module: not weights only
    with pytest.raises(UserError, match=r"^code: not a readable weights file"):
        read_torch_file(tmp_path / "code.pt", "code")


def test_is_state_dict():
    assert is_state_dict({"a": torch.zeros(1)})
    assert not is_state_dict({})
    assert not is_state_dict({"a": torch.zeros(1), "epoch": 3})
    assert not is_state_dict([torch.zeros(1)])


def test_state_dict_of_every_layout():
    weights = {"w": torch.ones(2), "b": torch.zeros(2)}
    ema = {"n_averaged": torch.tensor(4), **{f"module.{k}": v * 7 for k, v in weights.items()}}
    assert state_dict_of(weights, "f") is weights
    assert state_dict_of({"model": weights, "epoch": 1}, "f") is weights
    assert torch.equal(state_dict_of({"model": weights, "ema": ema}, "f")["w"], weights["w"] * 7)  # EMA wins
    assert state_dict_of({"state_dict": weights, "epoch": 3}, "f") is weights
    assert set(state_dict_of({f"module.{k}": v for k, v in weights.items()}, "f")) == {"w", "b"}
    for bad in ([1, 2], {"epoch": 3}, {"model": None}):
        with pytest.raises(UserError, match=re.escape("f: not a state dict (names -> tensors) nor an asffbench checkpoint")):
            state_dict_of(bad, "f")


def test_check_fits_names_the_first_misfit():
    module = torch.nn.BatchNorm1d(3)
    state = dict(module.state_dict())
    check_fits(module, state, "f")
    del state["num_batches_tracked"]  # optional bookkeeping
    check_fits(module, state, "f")
    with pytest.raises(UserError, match=r"^f: no tensor w\.running_mean \(the model's running_mean, shape 3\)"):
        check_fits(module, {k: v for k, v in state.items() if k != "running_mean"}, "f", {"running_mean": "w.running_mean"})
    with pytest.raises(UserError, match=r"^f: tensor bias has shape 4, the configured model expects 3"):
        check_fits(module, {**state, "bias": torch.zeros(4)}, "f")
    with pytest.raises(UserError, match=r"^f: tensor extra is not in the configured model \(1 such tensors\)"):
        check_fits(module, {**state, "extra": torch.zeros(1)}, "f")
