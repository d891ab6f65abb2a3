"""The anchor-free levels through the pipeline's shared steps: the trainer's one training step
(with the criterion `build_criterion` picks for `LossSettings.kind`), the inference loop and the
settings that choose ultralytics' post-processing. A hand-made model stands in for the family."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from asffbench.config.compose import compose_config
from asffbench.engine.anchor_free_loss import AnchorFreeLoss
from asffbench.engine.distributed import DistEnv
from asffbench.engine.inference import infer
from asffbench.engine.postprocess import postprocess
from asffbench.engine.train_builders import build_criterion, build_trainer
from asffbench.engine.trainer import as_float
from asffbench.errors import UserError
from asffbench.models.outputs import AnchorFreeLevel, DetectorOutput
from asffbench.runs.record import experiment_hash
from asffbench.settings import loss_settings, postprocess_settings, predict_settings, trainer_settings

CPU = torch.device("cpu")
NUM_CLASSES = 2
REG_MAX = 16


class TinyAnchorFree(nn.Module):
    """A conv stem and one 1x1 prediction per level: raw maps in the family's layout."""

    strides = (32, 16, 8)

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.preds = nn.ModuleList(nn.Conv2d(8, 4 * REG_MAX + NUM_CLASSES, 1) for _ in self.strides)

    def forward(self, images: torch.Tensor, return_fusion_weights: bool = False) -> DetectorOutput:
        features = torch.relu(self.stem(images))
        return DetectorOutput(levels=[
            AnchorFreeLevel(pred(nn.functional.avg_pool2d(features, stride)), stride, REG_MAX)
            for pred, stride in zip(self.preds, self.strides)])


def tiny_config():
    return compose_config(["model=tiny", f"model.num_classes={NUM_CLASSES}", "img_size=64", "device=cpu",
                           "train.ema=true", "train.epochs=1", "train.warmup_epochs=0", "train.lr=0.01"])


def test_one_training_step_with_the_anchor_free_criterion():
    settings = trainer_settings(tiny_config())
    settings = replace(settings, loss=replace(settings.loss, kind="anchor_free"))
    torch.manual_seed(0)
    model = TinyAnchorFree()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = build_trainer(settings, model, CPU, DistEnv(), iters_per_epoch=1)
    assert isinstance(trainer.criterion, AnchorFreeLoss)
    images = torch.rand(2, 3, 64, 64)
    targets = torch.tensor([[0, 1, 8.0, 8.0, 40.0, 40.0, 1.0], [0, 0, 20.0, 10.0, 50.0, 60.0, 1.0]])
    step = trainer.train_step(images, targets, epoch=0)
    assert set(step.parts) == {"box", "cls", "dfl"} and step.parts["box"] > 0
    assert step.loss == pytest.approx(2 * sum(step.parts.values()), rel=1e-5)  # x batch size
    assert any(not torch.equal(old, new) for old, new in zip(before, model.parameters()))


def test_the_criterion_follows_the_loss_kind_and_the_loss_keys():
    cfg = compose_config(["loss.box_gain=2.0", "loss.assigner_topk=5"])
    settings = loss_settings(cfg)
    assert settings.kind == "yolov3"  # the YOLOv3 family's head is anchor-based
    criterion = build_criterion(replace(settings, kind="anchor_free"))
    assert isinstance(criterion, AnchorFreeLoss)
    assert criterion.gains == (2.0, 0.5, 1.5) and criterion.assigner_options["topk"] == 5
    with pytest.raises(UserError, match="loss.assigner_topk=0"):
        compose_config(["loss.assigner_topk=0"])


def test_loss_keys_leave_the_hash_of_anchor_based_runs_alone():
    assert experiment_hash(compose_config(["loss.box_gain=2.0"]), "cpu") == experiment_hash(compose_config([]), "cpu")


def test_half_precision_levels_go_to_the_loss_in_fp32():
    level = AnchorFreeLevel(torch.zeros(1, 4 * REG_MAX + 1, 2, 2, dtype=torch.float16), 8, REG_MAX)
    assert as_float(level).pred.dtype == torch.float32 and as_float(level).stride == 8


def test_inference_loop_decodes_anchor_free_levels():
    model = TinyAnchorFree().eval()
    images = torch.rand(1, 3, 64, 64)
    meta = {"image_id": 1, "orig_size": (128, 128), "scale": 0.5, "pad": (0, 0)}
    settings = replace(postprocess_settings(tiny_config()), score_thresh=0.0)
    with torch.no_grad():
        step = next(infer(model, [(images, None, [meta])], CPU, settings))
        by_hand = postprocess(model(images).levels, **settings.kwargs())[0]
    found = step.detections[0]
    assert len(found["scores"]) > 5 and torch.equal(found["scores"], by_hand["scores"])
    torch.testing.assert_close(found["boxes"], (by_hand["boxes"] / 0.5).clamp(0, 128))  # original px, clipped


def test_ultralytics_post_processing_is_chosen_by_named_keys():
    cfg = compose_config(["recipe=ultralytics", "tricks=none"])
    val, predict = postprocess_settings(cfg), predict_settings(cfg)
    assert (val.score_thresh, val.nms_iou, val.max_det, val.pre_nms_topk, val.class_offset, val.multi_label) == (
        0.001, 0.7, 300, 30000, 7680.0, True)
    assert (predict.score_thresh, predict.multi_label, predict.nms_iou) == (0.25, False, 0.7)
    assert predict_settings(cfg, score_thresh=0.5).score_thresh == 0.5  # --score-thresh wins
    defaults = compose_config([])
    assert predict_settings(defaults).multi_label is True and predict_settings(defaults).score_thresh == 0.3
    # Runs at the defaults keep their hash; the NMS forms count where set, predict's keys never.
    assert experiment_hash(compose_config(["eval.predict_score_thresh=0.25"]), "cpu") == experiment_hash(
        defaults, "cpu")
    assert experiment_hash(compose_config(["eval.nms_class_offset=7680"]), "cpu") != experiment_hash(defaults, "cpu")
