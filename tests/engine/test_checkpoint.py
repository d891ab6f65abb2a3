"""Checkpoint files: atomic writes, safe loading, RNG states."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from asffbench.engine.checkpoint import load_checkpoint, restore_rng_states, rng_states, save_checkpoint
from asffbench.engine.ema import build_ema
from asffbench.errors import UserError
from asffbench.weights.read import ema_module_state, model_state_from


def test_round_trip_loads_with_weights_only(tmp_path) -> None:
    net = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    state = {"epoch": 3, "model": net.state_dict(), "optimizer": optimizer.state_dict(), "rng": rng_states(), "config": {"a": [1, "b", None]}}
    path = save_checkpoint(state, tmp_path / "checkpoints" / "last.pt")
    loaded = torch.load(path, weights_only=True)  # the safe unpickler accepts every entry
    assert loaded["epoch"] == 3 and loaded["config"] == {"a": [1, "b", None]}
    assert torch.equal(loaded["model"]["weight"], net.weight)
    assert load_checkpoint(path)["optimizer"]["state"][0]["momentum_buffer"].shape == (2, 2)


def test_failed_write_keeps_the_previous_checkpoint_and_no_temp_file(tmp_path) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint({"epoch": 1}, path)
    with pytest.raises(Exception):
        save_checkpoint({"epoch": 2, "bad": lambda: None}, path)  # pickling fails mid-write
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_rng_states_restore_every_generator() -> None:
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    np.random.randn()  # leave numpy with a cached gaussian
    state = rng_states()
    first = (random.random(), np.random.randn(3).tolist(), torch.rand(3).tolist())
    restore_rng_states(state)
    assert (random.random(), np.random.randn(3).tolist(), torch.rand(3).tolist()) == first


def test_rng_states_survive_a_file_round_trip(tmp_path) -> None:
    torch.manual_seed(5), random.seed(5), np.random.seed(5)
    save_checkpoint({"rng": rng_states()}, tmp_path / "c.pt")
    first = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    restore_rng_states(load_checkpoint(tmp_path / "c.pt")["rng"])
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == first


def test_missing_and_corrupt_checkpoints_are_user_errors(tmp_path) -> None:
    with pytest.raises(UserError, match="missing.pt: no such file"):
        load_checkpoint(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="corrupt.pt: not a readable weights file"):
        load_checkpoint(corrupt)


def test_evaluation_prefers_ema_weights(tmp_path) -> None:
    net = torch.nn.Linear(2, 2)
    ema = build_ema(net, decay=0.5)
    with torch.no_grad():
        ema.module.weight.fill_(7.0)
    state = {"model": net.state_dict(), "ema": ema.state_dict()}
    chosen = model_state_from(state, tmp_path / "x.pt")
    assert set(chosen) == {"weight", "bias"} and torch.all(chosen["weight"] == 7.0)
    assert torch.equal(model_state_from(state, tmp_path / "x.pt", prefer_ema=False)["weight"], net.weight)
    assert ema_module_state(ema.state_dict()).keys() == net.state_dict().keys()
    with pytest.raises(UserError, match="no 'model' weights"):
        model_state_from({"epoch": 1}, tmp_path / "x.pt")
