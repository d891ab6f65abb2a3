"""The layer that reads the config: every option of every config group gives every settings object."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from asffbench.anchors import resolve_anchors
from asffbench.config.compose import compose_config
from asffbench.config.schema import choice_str
from asffbench.engine.loss import YOLOLoss
from asffbench.engine.optim import build_optimizer
from asffbench.engine.schedule import build_scheduler
from asffbench.settings import (
    MAX_BATCH_START,
    bench_settings,
    data_settings,
    data_source,
    eval_settings,
    loss_arguments,
    optimizer_settings,
    postprocess_settings,
    schedule_settings,
    tracker_settings,
    train_data_settings,
)
from tests.test_config import group_options

SETTINGS = (postprocess_settings, eval_settings, bench_settings, optimizer_settings, schedule_settings,
            data_source, data_settings, train_data_settings, tracker_settings)


def composed(group: str, option: str, *extra: str):
    needs_root = ["data.root=somewhere"] if (group, option) == ("data", "coco") else []
    return compose_config([f"{group}={option}", *needs_root, "device=cpu", *extra])


@pytest.mark.parametrize("group,option", group_options())
def test_every_option_gives_every_settings_object(group, option):
    cfg = composed(group, option)
    for build in SETTINGS:
        settings = build(cfg)
        assert dataclasses.is_dataclass(settings) and settings.__dataclass_params__.frozen, build.__name__
        hash(settings)  # frozen all the way down: no config node or list left inside
    post = postprocess_settings(cfg)
    assert (post.score_thresh, post.nms_iou, post.max_det, post.multi_label) == (
        cfg.eval.score_thresh, cfg.eval.nms_iou, cfg.eval.max_det, cfg.recipe.multi_label)
    evaluation = eval_settings(cfg)
    assert evaluation.postprocess == post and evaluation.fusion == cfg.fusion.name
    assert evaluation.metric == ("voc" if cfg.data.name in ("voc", "voc_synth") else "coco")
    assert [list(pair) for pair in evaluation.anchors] == resolve_anchors(cfg.model.anchors)
    bench = bench_settings(cfg)
    assert (bench.mode, bench.precision, bench.nms, bench.postprocess) == (
        choice_str(cfg.bench.mode), choice_str(cfg.bench.precision), cfg.bench.nms, post)
    if cfg.bench.batch_size is None:  # unset: 1 for inference (train mode: train.batch_size)
        assert (bench.batch_size, bench.batch_size_from) == (1, "default")
    else:
        assert (bench.batch_size, bench.batch_size_from) == (cfg.bench.batch_size, "bench.batch_size")
    assert bench.deform_conv == ("sampled" if cfg.tricks.guided_anchoring else None)  # auto, on CPU
    schedule = schedule_settings(cfg)
    assert schedule.epochs == cfg.train.epochs and schedule.cosine == cfg.tricks.cosine_lr
    assert schedule.warmup_form == choice_str(cfg.recipe.warmup_form)
    train_data = train_data_settings(cfg)
    assert train_data.data == data_settings(cfg) and train_data.data.source == data_source(cfg)
    assert (train_data.data.source.name, train_data.data.num_classes, train_data.data.val_batch_size) == (
        cfg.data.name, cfg.model.num_classes, cfg.eval.batch_size)
    assert train_data.augment.augment == choice_str(cfg.recipe.augment)
    reference_extra = 2 if choice_str(cfg.recipe.mixup_off_form) == "reference" else 0  # on while epoch <= E - N + 1
    assert train_data.sampling.mixup_epochs == (
        cfg.train.epochs - cfg.train.mixup_off_epochs + reference_extra if cfg.tricks.mixup else 0)
    assert train_data.sampling.multiscale == cfg.tricks.multiscale
    arguments = loss_arguments(cfg)
    inspect.signature(YOLOLoss).bind(**arguments)  # every argument is one the loss takes
    assert arguments["iou_loss"] is bool(cfg.tricks.iou_loss)
    assert all(isinstance(v, str) for k, v in arguments.items() if k.endswith(("_form", "_weighting", "_prediction")))


def test_tracker_settings_read_the_logger_keys():
    from asffbench.trackers.options import MlflowOptions, WandbOptions

    assert tracker_settings(compose_config([])).names == ("tensorboard",)
    assert tracker_settings(compose_config(["logger=[]"])).names == ()
    settings = tracker_settings(compose_config([
        "logger=[mlflow,wandb]", "logger.mlflow.uri=sqlite:///x.db", "logger.mlflow.experiment=ablation",
        "logger.wandb.mode=online", "logger.wandb.project=p", "logger.wandb.entity=team"]))
    assert settings.names == ("mlflow", "wandb") and not settings.tensorboard
    assert settings.mlflow == MlflowOptions(uri="sqlite:///x.db", experiment="ablation")
    assert settings.wandb == WandbOptions(mode="online", project="p", entity="team")


def test_the_arguments_build_the_parts_they_are_for():
    import torch

    cfg = compose_config(["model.num_classes=3", "recipe=reference", "train.epochs=10"])
    loss = YOLOLoss(**loss_arguments(cfg))
    assert loss.num_classes == 3 and loss.iou_loss_form == "iou_squared" and loss.shared_prediction == "last_box"
    optim, schedule = optimizer_settings(cfg), schedule_settings(cfg)
    optimizer = build_optimizer(torch.nn.Linear(2, 2), optim.lr, optim.momentum, optim.weight_decay,
                                decay_norm_and_bias=optim.decay_norm_and_bias)
    build_scheduler(optimizer, epochs=schedule.epochs, iters_per_epoch=4, warmup_epochs=schedule.warmup_epochs,
                    cosine=schedule.cosine, base_lr=optim.lr, min_lr=optim.min_lr,
                    step_milestones=list(schedule.step_milestones), warmup_form=schedule.warmup_form,
                    flat_epochs=schedule.flat_epochs, final_epochs=schedule.final_epochs)


def test_bench_settings_read_the_bench_keys():
    cfg = compose_config(["bench.batch_size=max", "bench.compile=reduce-overhead", "bench.nms=false",
                          "bench.precision=bf16", "tricks.guided_anchoring=false", "seed=7"])
    settings = bench_settings(cfg)
    assert settings.find_max and settings.batch_size == MAX_BATCH_START and settings.batch_size_from == "bench.batch_size"
    train = bench_settings(compose_config(["bench.mode=train", "train.batch_size=6"]))
    assert (train.batch_size, train.batch_size_from, train.find_max) == (6, "train.batch_size", False)
    assert (settings.compile, settings.nms, settings.precision, settings.seed) == ("reduce-overhead", False, "bf16", 7)
    assert settings.deform_conv is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.nms = True  # type: ignore[misc]


def test_eval_metric_auto_follows_the_data_and_an_explicit_choice_wins():
    assert eval_settings(compose_config(["data=voc_synth"])).metric == "voc"
    assert eval_settings(compose_config(["data=voc_synth", "eval.metric=coco"])).metric == "coco"
    assert eval_settings(compose_config(["train.eval_every=2", "train.epochs=6"])).every == 2


def test_voc_sets_and_classes_arrive_as_tuples():
    source = data_source(compose_config(["data=voc", "data.train.sets=[[2012,trainval]]", "data.classes=[cat,dog]"]))
    assert source.train.sets == ((2012, "trainval"),) and source.val.sets is None
    assert source.classes == ("cat", "dog")
