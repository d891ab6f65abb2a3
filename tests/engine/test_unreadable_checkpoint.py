"""A truncated `checkpoints/last.pt` is not resumed from: one warning line, the file kept aside."""

from __future__ import annotations

import logging

import torch

from asffbench.config.compose import compose_config
from asffbench.engine.checkpoint import save_checkpoint
from asffbench.engine.train_builders import resume_state_of
from asffbench.weights.resolve import last_checkpoint


def truncated_checkpoint(run_dir):
    path = save_checkpoint({"epoch": 1, "model": {"w": torch.ones(100)}}, last_checkpoint(run_dir))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, data[: len(data) // 2]


def test_unreadable_last_checkpoint_is_named_and_kept_aside(tmp_path, caplog):
    path, kept = truncated_checkpoint(tmp_path)
    cfg = compose_config(["train.resume=true"])
    with caplog.at_level(logging.WARNING):
        assert resume_state_of(cfg.train.resume, path) is None  # training starts from scratch
    [aside] = list(path.parent.glob("last.pt.unreadable-*"))
    assert not path.exists() and aside.read_bytes() == kept
    [message] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "\n" not in message and str(path) in message and "not a readable weights file (truncated" in message
    assert aside.name in message and "starts from scratch" in message


def test_only_rank_0_moves_it_and_a_readable_one_resumes(tmp_path, caplog):
    path, _ = truncated_checkpoint(tmp_path)
    cfg = compose_config(["train.resume=true"])
    with caplog.at_level(logging.WARNING):
        assert resume_state_of(cfg.train.resume, path, is_main=False) is None
    assert path.exists() and not list(path.parent.glob("last.pt.unreadable-*"))
    assert resume_state_of(compose_config([]).train.resume, path) is None  # train.resume=false: not even read
    save_checkpoint({"epoch": 2}, path)
    assert resume_state_of(cfg.train.resume, path)["epoch"] == 2
