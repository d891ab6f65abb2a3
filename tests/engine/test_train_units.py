"""Optimizer groups, LR schedules and EMA of the training engine (no data, tiny modules)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from asffbench.engine.ema import RAMP, build_ema, ramped_decay
from asffbench.engine.optim import build_optimizer, param_groups, scaled_lr
from asffbench.engine.schedule import WARMUP_START, build_scheduler


def small_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.LeakyReLU(0.1),
        nn.Conv2d(4, 2, 1, bias=True), nn.Flatten(), nn.Linear(2, 3),
    )


def test_weight_decay_only_on_conv_and_linear_weights() -> None:
    net = small_net()
    decay, no_decay = param_groups(net, 5e-4)  # the default: norm weights and biases not decayed
    conv1, bn, conv2, linear = net[0], net[1], net[3], net[5]
    assert {id(p) for p in decay["params"]} == {id(conv1.weight), id(conv2.weight), id(linear.weight)}
    assert {id(p) for p in no_decay["params"]} == {id(bn.weight), id(bn.bias), id(conv2.bias), id(linear.bias)}
    assert decay["weight_decay"] == 5e-4 and no_decay["weight_decay"] == 0.0
    optimizer = build_optimizer(net, lr=0.01, momentum=0.9, weight_decay=5e-4)
    assert optimizer.defaults["momentum"] == 0.9
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(net.parameters()))


def test_lr_is_stated_for_a_batch_of_64() -> None:
    assert scaled_lr(1e-3, 64) == pytest.approx(1e-3)
    assert scaled_lr(1e-3, 16) == pytest.approx(2.5e-4)
    assert scaled_lr(1e-3, 16, scaling="none") == scaled_lr(1e-3, 50, scaling="none") == 1e-3  # the reference
    with pytest.raises(ValueError, match="linear"):
        scaled_lr(1e-3, 16, scaling="sqrt")


def lrs(cosine: bool, epochs: int = 10, iters: int = 10, warmup: float = 2.0) -> list[float]:
    net = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    scheduler = build_scheduler(
        optimizer, epochs=epochs, iters_per_epoch=iters, warmup_epochs=warmup, cosine=cosine,
        base_lr=0.1, min_lr=0.001, step_milestones=[0.8, 0.9],
    )
    values = []
    for _ in range(epochs * iters):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    values.append(optimizer.param_groups[0]["lr"])  # after the last iteration
    return values


def test_cosine_schedule_with_warmup() -> None:
    values = lrs(cosine=True)  # 100 iterations, 20 of warm-up
    assert values[0] == pytest.approx(0.1 * WARMUP_START)
    assert values[10] == pytest.approx(0.1 * (WARMUP_START + (1 - WARMUP_START) * 0.5))  # linear
    assert values[20] == pytest.approx(0.1)  # warm-up done: the base LR
    assert values[60] == pytest.approx(0.001 + (0.1 - 0.001) * 0.5)  # half-way down the cosine
    assert values[100] == pytest.approx(0.001)  # ends at min_lr
    assert all(a >= b for a, b in zip(values[20:], values[21:]))  # never rises after warm-up


def test_step_schedule_with_warmup() -> None:
    values = lrs(cosine=False)
    assert values[0] == pytest.approx(0.1 * WARMUP_START)
    assert values[20] == pytest.approx(0.1) and values[79] == pytest.approx(0.1)
    assert values[80] == pytest.approx(0.01) and values[89] == pytest.approx(0.01)
    assert values[90] == pytest.approx(0.001) and values[100] == pytest.approx(0.001)


def test_scheduler_state_round_trip_continues_the_schedule() -> None:
    net = nn.Linear(2, 2)
    make = lambda opt: build_scheduler(  # noqa: E731
        opt, epochs=4, iters_per_epoch=5, warmup_epochs=1, cosine=True, base_lr=0.1, min_lr=0.0, step_milestones=[]
    )
    opt_a = torch.optim.SGD(net.parameters(), lr=0.1)
    sched_a = make(opt_a)
    for _ in range(7):
        opt_a.step()
        sched_a.step()
    opt_b = torch.optim.SGD(net.parameters(), lr=0.1)
    sched_b = make(opt_b)
    opt_b.load_state_dict(opt_a.state_dict())
    sched_b.load_state_dict(sched_a.state_dict())
    for _ in range(5):
        opt_a.step(), sched_a.step(), opt_b.step(), sched_b.step()
        assert opt_b.param_groups[0]["lr"] == opt_a.param_groups[0]["lr"]


def test_ema_follows_the_model_with_a_ramped_decay() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    ema = build_ema(net, decay=0.9)
    start = net[0].weight.detach().clone()
    with torch.no_grad():
        net[0].weight.add_(1.0)
    ema.update_parameters(net)  # first update copies
    assert torch.equal(ema.module[0].weight, net[0].weight)
    with torch.no_grad():
        net[0].weight.copy_(start)
    ema.update_parameters(net)  # second: decay ramped by 1 update
    d = ramped_decay(0.9, 1)
    assert d == pytest.approx(0.9 * (1 - math.exp(-1 / RAMP)))
    assert torch.allclose(ema.module[0].weight, d * (start + 1.0) + (1 - d) * start)
    assert ema.module[1].num_batches_tracked.dtype == torch.int64
    assert not any(p.requires_grad for p in ema.parameters())


def test_fit_runs_the_remaining_epochs_and_their_after_epoch_steps_in_order(monkeypatch) -> None:
    from asffbench.engine.hooks import EpochHook
    from asffbench.engine.trainer import Trainer

    net = small_net()
    optimizer = build_optimizer(net, 0.1, 0.9, 0.0)
    scheduler = build_scheduler(
        optimizer, epochs=4, iters_per_epoch=1, warmup_epochs=0, cosine=True, base_lr=0.1, min_lr=0.0,
        step_milestones=[],
    )
    trainer = Trainer(net, nn.Identity(), optimizer, scheduler, device=torch.device("cpu"), iters_per_epoch=1)
    trainer.epoch = 1  # as after a resume: epoch 0 is done

    def fake_epoch(self, loader, epoch):
        self.epoch = epoch + 1
        return {"loss": float(10 * epoch)}

    monkeypatch.setattr(Trainer, "train_epoch", fake_epoch)
    calls = []
    steps = [
        EpochHook(lambda t, epoch, summary: calls.append(("save", epoch, summary["loss"], t.epoch))),
        EpochHook(lambda t, epoch, summary: calls.append(("log", epoch, summary["loss"], t.epoch))),
    ]
    assert trainer.fit([], 4, steps) == 30.0
    assert calls == [
        ("save", 1, 10.0, 2), ("log", 1, 10.0, 2),
        ("save", 2, 20.0, 3), ("log", 2, 20.0, 3),
        ("save", 3, 30.0, 4), ("log", 3, 30.0, 4),
    ]
    assert trainer.fit([], 4, steps) is None  # nothing left to run
