"""`bench --mode train` times the trainer's own step: same weights after it, same batch size rule."""

from __future__ import annotations

import copy

import pytest
import torch

from asffbench.settings import bench_run, bench_settings
from asffbench.bench.train_step import SyncedPhases, prepare_batches, step_settings, step_trainer, timed_step
from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.engine.distributed import DistEnv
from asffbench.engine.train_builders import build_trainer
from asffbench.engine.trainer import PHASES

CPU = torch.device("cpu")
# Everything the old bench copy of the step left out is on: EMA, clipping, warm-up, no decay on norms.
STEP = ["model=tiny", "model.num_classes=6", "img_size=64", "device=cpu", "data.workers=0", "data.synth.images=8",
        "train.batch_size=2", "train.ema=true", "train.grad_clip=0.5", "train.warmup_epochs=1",
        "recipe.decay_norm_and_bias=false"]


def test_a_bench_timed_step_changes_the_weights_exactly_as_a_trainer_step(tmp_path):
    cfg = compose_config([*STEP, f"data.cache_dir={tmp_path}"])
    run = bench_run(cfg)
    data, trainer = step_settings(run, batch_size=2)
    batches, _rate, iters_per_epoch = prepare_batches(data, CPU, channels_last=False)
    torch.manual_seed(0)
    model = build_model(cfg)

    trained = build_trainer(trainer, copy.deepcopy(model), CPU, DistEnv(), iters_per_epoch)
    trained.model.train()
    benched = step_trainer(trainer, run.bench, CPU, copy.deepcopy(model), iters_per_epoch)
    phases = SyncedPhases(CPU)
    for index, batch in enumerate(batches[:2]):
        torch.manual_seed(index)  # DropBlock draws: the same for both
        trained.train_step(*batch, epoch=0, index=index)
        torch.manual_seed(index)
        milliseconds = timed_step(benched, batch, phases)
        assert len(milliseconds) == len(PHASES) and all(ms >= 0 for ms in milliseconds)

    for (name, a), b in zip(trained.model.state_dict().items(), benched.model.state_dict().values()):
        assert torch.equal(a, b), name
    for a, b in zip(trained.ema.state_dict().values(), benched.ema.state_dict().values()):
        assert torch.equal(a, b)
    assert trained.scheduler.state_dict() == benched.scheduler.state_dict()
    assert any(not torch.equal(a, b) for a, b in zip(model.parameters(), benched.model.parameters()))  # it trained


@pytest.mark.parametrize("overrides,batch,source", [
    (["bench.mode=train", "train.batch_size=8"], 8, "train.batch_size"),
    (["bench.mode=train", "train.batch_size=8", "bench.batch_size=3"], 3, "bench.batch_size"),
    (["train.batch_size=8"], 1, "default"),
    (["train.batch_size=8", "bench.batch_size=3"], 3, "bench.batch_size"),
])
def test_the_bench_batch_and_where_it_comes_from(overrides, batch, source):
    settings = bench_settings(compose_config(["device=cpu", *overrides]))
    assert (settings.batch_size, settings.batch_size_from) == (batch, source)


def test_the_bench_step_settings_fix_the_batch_and_the_size():
    run = bench_run(compose_config(["device=cpu", "train.epochs=0", "train.max_iters_per_epoch=3", "tricks.mixup=true",
                                    "train.mixup_off_epochs=0"]))
    data, trainer = step_settings(run, batch_size=5)
    assert (data.sampling.batch_size, trainer.batch_size) == (5, 5)
    assert (data.sampling.epochs, trainer.schedule.epochs, data.sampling.max_batches) == (1, 1, None)
    assert not data.sampling.multiscale and data.sampling.mixup_epochs == 1  # as training's first epoch of one
