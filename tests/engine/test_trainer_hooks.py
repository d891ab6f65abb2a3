"""Trainer hooks: per step after the optimizer step (the EMA update first), per epoch after it."""

from __future__ import annotations

import torch

from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.engine.distributed import DistEnv
from asffbench.engine.hooks import EmaUpdate, Hook, StepInfo
from asffbench.engine.train_builders import build_trainer
from asffbench.settings import trainer_settings

CPU = torch.device("cpu")


class Recorder(Hook):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def before_epoch(self, trainer, epoch: int) -> None:
        self.calls.append(("before_epoch", epoch))

    def after_step(self, trainer, step: StepInfo) -> None:
        # Runs after the optimizer, the schedule and the EMA update of this step.
        self.calls.append(("step", step.epoch, step.index, trainer.global_iter, int(trainer.ema.n_averaged)))

    def after_epoch(self, trainer, epoch: int, summary: dict) -> None:
        self.calls.append(("after_epoch", epoch, summary["iters"], trainer.epoch))


def test_hooks_run_per_step_and_per_epoch_in_order():
    cfg = compose_config(["model=tiny", "model.num_classes=2", "img_size=64", "device=cpu", "train.ema=true",
                          "train.epochs=2", "train.warmup_epochs=0"])
    torch.manual_seed(0)
    model = build_model(cfg)
    trainer = build_trainer(trainer_settings(cfg), model, CPU, DistEnv(), iters_per_epoch=2)
    assert [type(hook) for hook in trainer.hooks] == [EmaUpdate]  # part of every step, benched too
    images = torch.rand(2, 3, 64, 64)
    targets = torch.tensor([[0, 1, 8.0, 8.0, 40.0, 40.0, 1.0], [1, 0, 20.0, 10.0, 50.0, 60.0, 1.0]])
    loader = [(images, targets, None)] * 2
    recorder = Recorder()
    trainer.fit(loader, 2, [recorder])
    assert recorder.calls == [
        ("before_epoch", 0), ("step", 0, 0, 1, 1), ("step", 0, 1, 2, 2), ("after_epoch", 0, 2, 1),
        ("before_epoch", 1), ("step", 1, 0, 3, 3), ("step", 1, 1, 4, 4), ("after_epoch", 1, 2, 2),
    ]
    assert [type(hook) for hook in trainer.hooks] == [EmaUpdate]  # fit's hooks were for that call
