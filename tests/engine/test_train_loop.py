"""The training loop on the real tiny model and synthetic data (CPU, a few iterations)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from asffbench.config.compose import compose_config
from asffbench.engine.checkpoint import load_checkpoint, save_checkpoint
from asffbench.runs.training import train
from asffbench.engine.trainer import NonFiniteLossError, Trainer
from asffbench.runs.train_only import train_only


def tiny_overrides(run_dir: Path, cache: Path, *extra: str) -> list[str]:
    return [
        "model=tiny", "model.num_classes=6", "img_size=96", "device=cpu", "tricks.multiscale=false",
        "data.workers=0", "data.synth.images=16", f"data.cache_dir={cache}",
        "train.batch_size=2", "train.epochs=2", "train.max_iters_per_epoch=2", "train.warmup_epochs=0.5",
        "train.lr=0.02", "train.log_every=1", "train.ema=true", "eval.batch_size=4",
        f"run_dir={run_dir}", *extra,
    ]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "asffbench-cache"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cache) -> Path:
    """An uninterrupted 2-epoch run (4 iterations), launched as `asffbench train` does (which
    writes the run's config.yaml; `engine.train` itself writes no config)."""
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    outcome = train_only(compose_config(tiny_overrides(run_dir, cache)))
    assert outcome["epochs_done"] == 2 and outcome["checkpoint"] == str(run_dir / "checkpoints" / "last.pt")
    return run_dir


class Killed(BaseException):
    """Stands for the process being killed (not an Exception: nothing may catch it)."""


def assert_same_tensors(a, b, where: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_tensors(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_resume_after_a_kill_mid_epoch_gives_the_same_weights(trained, cache, tmp_path, monkeypatch) -> None:
    run_dir = tmp_path / "killed"
    real_step = Trainer.train_step

    def step_then_die(self, *args, **kwargs):
        if self.global_iter == 3:  # the second iteration of epoch 2: the run dies mid-epoch
            raise Killed()
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "train_step", step_then_die)
    with pytest.raises(Killed):
        train(compose_config(tiny_overrides(run_dir, cache)), run_dir)
    killed = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert killed["epoch"] == 1 and killed["train_seconds"] > 0  # the killed attempt's epoch 1
    monkeypatch.setattr(Trainer, "train_step", real_step)

    result = train(compose_config(tiny_overrides(run_dir, cache, "train.resume=true")), run_dir)
    assert result.epochs_done == 2
    # train_seconds counts both attempts; the attempt's own time is apart.
    assert 0 < result.train_seconds_attempt < result.train_seconds
    assert result.train_seconds == pytest.approx(killed["train_seconds"] + result.train_seconds_attempt)
    resumed = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    uninterrupted = load_checkpoint(trained / "checkpoints" / "last.pt")
    for key in ("model", "ema", "optimizer", "scheduler", "epoch", "global_iter"):
        assert_same_tensors(resumed[key], uninterrupted[key], key)
    # The log of the redone epoch is not duplicated.
    steps = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert [s["iter"] for s in steps if "iter" in s] == [0, 1, 2, 3]


def test_preemption_right_after_a_checkpoint_still_logs_its_epoch(trained, cache, tmp_path, monkeypatch) -> None:
    """SLURM's USR2 landing between an epoch's checkpoint and its log line: the line is written
    before the handler runs, so the requeued attempt, which starts after that epoch, logs every epoch."""
    import os
    import signal

    import asffbench.runs.training as train_module

    run_dir = tmp_path / "preempted"
    real_save = train_module.save_checkpoint

    def save_then_signal(state, path):
        written = real_save(state, path)
        if state["epoch"] == 1:
            os.kill(os.getpid(), signal.SIGUSR2)
        return written

    def preempt(signum, frame):
        raise Killed()

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_signal)
    previous = signal.signal(signal.SIGUSR2, preempt)
    try:
        with pytest.raises(Killed):
            train(compose_config(tiny_overrides(run_dir, cache)), run_dir)
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 1
    monkeypatch.setattr(train_module, "save_checkpoint", real_save)
    train(compose_config(tiny_overrides(run_dir, cache, "train.resume=true")), run_dir)
    lines = [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines if line.get("event") == "epoch_end"] == [0, 1]
    assert [line["iter"] for line in lines if "iter" in line] == [0, 1, 2, 3]


def test_run_dir_holds_config_log_and_checkpoint(trained) -> None:
    config = (trained / "config.yaml").read_text()
    assert "name: tiny" in config
    lines = [json.loads(line) for line in (trained / "train_log.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "iter" in line]
    ends = [line for line in lines if line.get("event") == "epoch_end"]
    assert [s["iter"] for s in steps] == [0, 1, 2, 3] and [e["epoch"] for e in ends] == [0, 1]
    for step in steps:
        assert set(step) >= {"epoch", "iter", "loss", "loss_parts", "lr", "images_per_s", "time"}
        assert step["loss"] > 0 and step["images_per_s"] > 0
        assert set(step["loss_parts"]) >= {"xy", "wh", "obj", "cls"}
    # Warm-up over the first iteration (0.5 epoch of 2 iterations), then the cosine to min_lr.
    base = 0.02 * 2 / 64
    assert steps[0]["lr"] == pytest.approx(base * 1e-3)
    assert steps[1]["lr"] == pytest.approx(base)
    assert steps[3]["lr"] < steps[2]["lr"] < base
    state = load_checkpoint(trained / "checkpoints" / "last.pt")
    assert state["epoch"] == 2 and state["global_iter"] == 4 and state["ema"] is not None


def weights_with_head_filled(value: float, cache: Path, folder: Path) -> Path:
    """Weights of the tiny model whose first head parameter is all `value` (nan, inf)."""
    from asffbench.build import build_model

    model = build_model(compose_config(tiny_overrides(folder / "unused", cache)))
    with torch.no_grad():
        next(model.head.parameters()).fill_(value)
    weights = folder / f"head_{value}.pt"
    torch.save({"model": model.state_dict()}, weights)
    return weights


def test_non_finite_loss_stops_the_run_without_a_nan_checkpoint(cache, tmp_path) -> None:
    weights = weights_with_head_filled(float("nan"), cache, tmp_path)
    run_dir = tmp_path / "nan"
    with pytest.raises(NonFiniteLossError, match="non-finite loss"):
        train(compose_config(tiny_overrides(run_dir, cache, f"train.checkpoint={weights}")), run_dir)
    assert not (run_dir / "checkpoints" / "last.pt").exists()


def test_non_finite_loss_is_one_line_from_the_cli(cli, cache, tmp_path) -> None:
    weights = weights_with_head_filled(float("inf"), cache, tmp_path)
    code, out, err = cli("train", *tiny_overrides(tmp_path / "inf", cache, f"train.checkpoint={weights}"))
    # The whole of stderr: nothing before the error line (no traceback, no progress, no warning).
    assert err == (
        "asffbench: error: train: non-finite loss (nan) at epoch 1, iteration 1; "
        "lower train.lr, raise train.warmup_epochs or set train.grad_clip\n"
    )
    assert code == 2 and out == ""
    assert not (tmp_path / "inf" / "checkpoints" / "last.pt").exists()


def test_a_truncated_last_checkpoint_is_kept_aside_and_training_starts_over(cache, tmp_path, caplog) -> None:
    run_dir = tmp_path / "run"
    checkpoint = save_checkpoint({"epoch": 1, "model": {"w": torch.ones(1000)}}, run_dir / "checkpoints" / "last.pt")
    truncated = checkpoint.read_bytes()[:2000]  # a copy cut short
    checkpoint.write_bytes(truncated)
    cfg = compose_config(tiny_overrides(run_dir, cache, "train.resume=true", "train.epochs=1"))
    with caplog.at_level(logging.WARNING):
        result = train(cfg, run_dir)
    assert result.epochs_done == 1 and load_checkpoint(checkpoint)["epoch"] == 1  # started from scratch
    [aside] = checkpoint.parent.glob("last.pt.unreadable-*")
    assert aside.read_bytes() == truncated  # kept, not overwritten
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "last.pt" in r.getMessage()]
    assert str(checkpoint) in warning and aside.name in warning and "not a readable weights file" in warning
