"""The ultralytics recipe's optimisation: per-epoch LR decay with its per-iteration warm-up (LR
per param group, momentum, gradient accumulation), the nominal batch, its three param groups and
its EMA, checked against hand-worked values and against ultralytics' own functions (the oracle)."""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from asffbench.engine.ema import build_ema
from asffbench.engine.epoch_schedule import (
    EpochDecay, nominal_accumulation, nominal_weight_decay, warmup_iterations,
)
from asffbench.engine.optim import build_optimizer, param_groups
from asffbench.engine.trainer import Trainer
from asffbench.models.outputs import LevelOutput

ultralytics_trainer = pytest.importorskip("ultralytics.engine.trainer")
ultralytics_torch_utils = pytest.importorskip("ultralytics.utils.torch_utils")


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))


def schedule_for(model: nn.Module, **overrides) -> EpochDecay:
    optimizer = build_optimizer(model, 0.01, 0.937, 5e-4, separate_bias=True, nesterov=True)
    settings = dict(epochs=3, iters_per_epoch=4, lrf=0.01, warmup_epochs=1.0, warmup_bias_lr=0.1,
                    warmup_momentum=0.8, accumulate=4)
    settings.update(overrides)
    return EpochDecay(optimizer, **settings)


def lrs(schedule: EpochDecay) -> dict[str, float]:
    return {group["name"]: group["lr"] for group in schedule.optimizer.param_groups}


def test_hand_worked_warmup_and_decay():
    schedule = schedule_for(small_model())
    assert schedule.warmup_iters == 4
    # Iteration 0: biases start at warmup_bias_lr, the rest at 0; momentum 0.8; one batch a step.
    assert lrs(schedule) == pytest.approx({"filters": 0.0, "norm": 0.0, "bias": 0.1})
    assert schedule.optimizer.param_groups[0]["momentum"] == pytest.approx(0.8)
    assert schedule.accumulate == 1
    schedule.step(), schedule.step()  # iteration 2: half-way, towards epoch 0's lr0 x 1
    assert lrs(schedule) == pytest.approx({"filters": 0.005, "norm": 0.005, "bias": 0.055})
    assert schedule.optimizer.param_groups[0]["momentum"] == pytest.approx(0.8685)
    assert schedule.accumulate == 2  # round(2.5) to even, as numpy rounds
    schedule.step(), schedule.step()  # iteration 4 = the warm-up's last, in epoch 1: on target
    factor_1 = (1 - 1 / 3) * 0.99 + 0.01
    assert lrs(schedule) == pytest.approx(dict.fromkeys(("filters", "norm", "bias"), 0.01 * factor_1))
    assert schedule.optimizer.param_groups[2]["momentum"] == pytest.approx(0.937)
    assert schedule.accumulate == 4
    for _ in range(4):
        schedule.step()  # iteration 8, epoch 2: the LR holds for the whole epoch
    assert lrs(schedule)["filters"] == pytest.approx(0.01 * ((1 - 2 / 3) * 0.99 + 0.01))


def test_three_param_groups_decay_filters_only():
    groups = param_groups(small_model(), 5e-4, separate_bias=True)
    assert [g["name"] for g in groups] == ["filters", "norm", "bias"]
    assert [len(g["params"]) for g in groups] == [2, 1, 2]  # conv weights; BN weight; BN and conv biases
    assert [g["weight_decay"] for g in groups] == [5e-4, 0.0, 0.0]
    two = param_groups(small_model(), 5e-4)
    assert [g["name"] for g in two] == ["filters", "norm_and_bias"] and len(two[1]["params"]) == 3


def test_nominal_batch_and_weight_decay_as_ultralytics_scales_them():
    assert nominal_accumulation(64, 16) == 4 and nominal_accumulation(64, 128) == 1
    assert nominal_accumulation(64, 24) == 3  # round(2.67)
    assert nominal_weight_decay(5e-4, 64, 16) == pytest.approx(5e-4)
    assert nominal_weight_decay(5e-4, 64, 24) == pytest.approx(5e-4 * 24 * 3 / 64)
    assert nominal_weight_decay(5e-4, 64, 128) == pytest.approx(1e-3)


@pytest.mark.parametrize("epochs,warmup_epochs,batches", [(3, 1.0, 4), (1, 3.0, 10), (10, 3.0, 7), (5, 0.0, 3)])
def test_warmup_length_is_the_oracles(epochs, warmup_epochs, batches):
    oracle = SimpleNamespace(args=SimpleNamespace(warmup_epochs=warmup_epochs), epochs=epochs)
    expected = ultralytics_trainer.BaseTrainer._get_warmup_iterations(oracle, batches)
    assert warmup_iterations(warmup_epochs, epochs, batches) == expected


@pytest.mark.parametrize("cos_lr", [False, True])
def test_every_iteration_matches_the_oracles_schedule(cos_lr):
    """The oracle's epoch factor (its own `_setup_scheduler` on a real optimizer) and its warm-up
    (np.interp of each group from its start to lr0 x factor, momentum from 0.8, accumulation from
    1 to the nominal), iteration by iteration."""
    epochs, nb, nominal = 4, 5, 4
    oracle = SimpleNamespace(args=SimpleNamespace(cos_lr=cos_lr, lrf=0.01, warmup_epochs=2.0), epochs=epochs,
                             optimizer=torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.01))
    ultralytics_trainer.BaseTrainer._setup_scheduler(oracle)
    nw = ultralytics_trainer.BaseTrainer._get_warmup_iterations(oracle, nb)
    schedule = schedule_for(small_model(), epochs=epochs, iters_per_epoch=nb, warmup_epochs=2.0,
                            shape="cosine" if cos_lr else "linear", accumulate=nominal)
    for ni in range(epochs * nb):
        target = 0.01 * oracle.lf(ni // nb)
        if ni <= nw:
            expected = {"filters": np.interp(ni, [0, nw], [0.0, target]), "norm": np.interp(ni, [0, nw], [0.0, target]),
                        "bias": np.interp(ni, [0, nw], [0.1, target])}
            momentum = np.interp(ni, [0, nw], [0.8, 0.937])
            accumulate = max(1, int(np.interp(ni, [0, nw], [1, nominal]).round()))
        else:
            expected, momentum, accumulate = dict.fromkeys(("filters", "norm", "bias"), target), 0.937, nominal
        assert lrs(schedule) == pytest.approx(expected, abs=1e-12), ni
        assert [g["momentum"] for g in schedule.optimizer.param_groups] == pytest.approx([momentum] * 3), ni
        assert schedule.accumulate == accumulate, ni
        schedule.step()


def test_state_is_the_iteration_and_resumes_exactly():
    first = schedule_for(small_model())
    for _ in range(3):
        first.step()
    second = schedule_for(small_model())
    second.load_state_dict(first.state_dict())
    assert lrs(second) == lrs(first) and second.accumulate == first.accumulate


class Linear1x1(nn.Module):
    """A stand-in detector: one 1x1 conv whose output is the only level."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)

    def forward(self, images):
        pred = self.conv(images)
        return SimpleNamespace(levels=[LevelOutput(pred, pred, None, 1)])


def sum_criterion(levels, targets):
    return levels[0].pred.sum(), {}


def test_trainer_accumulates_gradients_over_the_schedules_batches():
    model = Linear1x1()
    start = copy.deepcopy(model.state_dict())
    optimizer = build_optimizer(model, 0.1, 0.0, 0.0, separate_bias=True)
    schedule = EpochDecay(optimizer, epochs=1, iters_per_epoch=4, lrf=1.0, warmup_epochs=0.0, accumulate=2)
    trainer = Trainer(model, sum_criterion, optimizer, schedule, device=torch.device("cpu"), iters_per_epoch=4)
    images = [torch.full((1, 1, 2, 2), float(i + 1)) for i in range(4)]
    stepped = [trainer.train_step(x, torch.zeros(0, 7), 0, i).optimizer_stepped for i, x in enumerate(images)]
    assert stepped == [False, True, False, True]
    # d(sum)/d(weight) = sum of the image's pixels: 4 x (1 + 2) then 4 x (3 + 4), each step lr 0.1.
    expected = start["conv.weight"] - 0.1 * 4 * (1 + 2 + 3 + 4)
    assert torch.allclose(model.conv.weight, expected)
    assert model.conv.weight.grad is None  # cleared after the last step


def test_ema_ramp_start_equals_ultralytics_model_ema():
    model = small_model()
    ours = build_ema(model, 0.9999, start="ramp")
    theirs = ultralytics_torch_utils.ModelEMA(model, decay=0.9999, tau=2000)
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        with torch.no_grad():
            for param in model.parameters():
                param.add_(torch.randn(param.shape, generator=generator))
        ours.update_parameters(model)
        theirs.update(model)
    for name, value in theirs.ema.state_dict().items():
        if value.dtype.is_floating_point:
            assert torch.allclose(ours.module.state_dict()[name], value, atol=1e-7), name


def test_ema_copy_start_is_torchs_averaged_model():
    model = small_model()
    ema = build_ema(model, 0.9999)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    ema.update_parameters(model)  # the first update copies
    assert torch.equal(ema.module[0].weight, model[0].weight)
    assert math.isclose(float(ema.n_averaged), 1.0)
