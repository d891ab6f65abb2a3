"""`train.channels_last`: the trainer runs the model, its EMA copy and every batch in channels-last
memory format, and trains the same function as the contiguous form (up to float rounding); the key
moves the experiment hash only when on.

Rounding differs between the two formats (oneDNN accumulates in another order), and on the YOLOv3
family's LeakyReLU + BatchNorm at a batch of two 64 px images that moves single gradients by
percents (a pre-activation within rounding of zero takes the other slope), so the updates are
compared as a whole: the same losses, and the same direction of the weights' change."""

from __future__ import annotations

import copy

import pytest
import torch

from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.engine.distributed import DistEnv
from asffbench.engine.train_builders import build_trainer, seed_everything
from asffbench.config.compose import to_plain
from asffbench.runs.experiment import experiment_hash
from asffbench.settings import trainer_settings

CPU = torch.device("cpu")
FAMILIES = {
    "yolov8": ["model=yolov8", "model.width=0.125", "model.depth=0.33", "recipe=ultralytics", "tricks=none"],
    "yolov3": ["model=tiny", "fusion=asff", "tricks=none"],
}


def configs(family: str):
    base = [*FAMILIES[family], "model.num_classes=3", "img_size=64", "device=cpu", "train.ema=true",
            "train.epochs=1", "train.warmup_epochs=0", "train.lr=0.01"]
    return compose_config([*base, "train.channels_last=false"]), compose_config([*base, "train.channels_last=true"])


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 64, 64, generator=generator)
    targets = torch.tensor([[0, 1, 8.0, 8.0, 40.0, 40.0, 1.0], [1, 2, 20.0, 10.0, 50.0, 60.0, 1.0]])
    return images, targets


def conv_weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p for p in module.parameters() if p.dim() == 4 and p.shape[-1] > 1]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_channels_last_trains_the_same_function_in_channels_last_format(family, one_thread):
    plain_cfg, cl_cfg = configs(family)
    seed_everything(0)
    model = build_model(plain_cfg)
    plain = build_trainer(trainer_settings(plain_cfg), model, CPU, DistEnv(), iters_per_epoch=2)
    channels_last = build_trainer(trainer_settings(cl_cfg), copy.deepcopy(model), CPU, DistEnv(), iters_per_epoch=2)
    assert all(w.is_contiguous() for w in conv_weights(plain.model))
    assert all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
               for w in conv_weights(channels_last.model))
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in conv_weights(channels_last.ema.module))
    start = torch.cat([p.detach().flatten() for p in model.parameters()])
    seen = []
    channels_last.model.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    images, targets = batch()
    for index in range(2):
        expected = plain.train_step(images, targets, epoch=0, index=index)
        got = channels_last.train_step(images, targets, epoch=0, index=index)
        assert got.loss == pytest.approx(expected.loss, rel=1e-4)
    assert seen[0].is_contiguous(memory_format=torch.channels_last) and not seen[0].is_contiguous()
    plain_update, cl_update = (torch.cat([p.detach().flatten() for p in trainer.model.parameters()]) - start
                               for trainer in (plain, channels_last))
    assert torch.nn.functional.cosine_similarity(plain_update, cl_update, dim=0) > 0.95  # 0.991 (YOLOv3), 1.0 (v8)
    assert cl_update.norm() == pytest.approx(float(plain_update.norm()), rel=0.05)
    # The checkpoint reads like a contiguous model's (ultralytics' readers `.view` its tensors).
    state = channels_last.state_dict()
    assert all(t.is_contiguous() for part in ("model", "ema") for t in state[part].values() if torch.is_tensor(t))


def test_channels_last_moves_the_hash_only_when_on():
    plain, cl = configs("yolov3")
    assert experiment_hash(cl, "cpu") != experiment_hash(plain, "cpu")
    recorded_before_the_key = to_plain(plain)
    del recorded_before_the_key["train"]["channels_last"]
    assert experiment_hash(recorded_before_the_key, "cpu") == experiment_hash(plain, "cpu")


def test_the_ultralytics_recipe_trains_in_channels_last():
    assert compose_config(["recipe=ultralytics"]).train.channels_last is True
    assert compose_config([]).train.channels_last is False
