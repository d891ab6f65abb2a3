"""`model.deform_conv=auto|torchvision|sampled`: config, model building, records, equal results."""

from __future__ import annotations

import json

import pytest
import torch
from torchvision.ops import DeformConv2d

from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.models.layers import SampledDeformConv2d
from asffbench.runs.experiment import experiment_hash
from asffbench.runs.run import prepare_config

TINY = ["model=tiny", "model.num_classes=6", "device=cpu"]


def deform_modules(model):
    return [m for m in model.modules() if isinstance(m, DeformConv2d)]


def test_config_shows_the_choice_and_refuses_an_unknown_one(cli, one_line_error):
    code, out, _ = cli("config", "model=tiny")
    assert code == 0 and "deform_conv: auto" in out
    code, _, err = cli("config", "model.deform_conv=fast")
    one_line_error(code, err, "model.deform_conv=fast", "sampled")


@pytest.mark.parametrize(
    ("choice", "expected"), [("auto", SampledDeformConv2d), ("sampled", SampledDeformConv2d), ("torchvision", DeformConv2d)]
)
def test_build_model_uses_the_resolved_implementation(choice, expected):
    model = build_model(compose_config(TINY + [f"model.deform_conv={choice}"]))
    modules = deform_modules(model)
    assert len(modules) == 3 and all(type(m) is expected for m in modules)


def test_checkpoints_are_the_same_for_both_implementations():
    torch.manual_seed(0)
    sampled = build_model(compose_config(TINY + ["model.deform_conv=sampled"]))
    reference = build_model(compose_config(TINY + ["model.deform_conv=torchvision"]))
    assert sampled.state_dict().keys() == reference.state_dict().keys()
    reference.load_state_dict(sampled.state_dict())  # strict: same names and shapes


def test_not_hashed_but_recorded_as_resolved(tmp_path):
    configs = [compose_config(TINY + [f"model.deform_conv={c}", f"run_dir={tmp_path}"]) for c in ("auto", "torchvision")]
    assert experiment_hash(configs[0]) == experiment_hash(configs[1])
    assert prepare_config(configs[0]).model.deform_conv == "sampled"  # auto on CPU
    assert prepare_config(configs[1]).model.deform_conv == "torchvision"


@pytest.mark.slow
def test_trained_with_one_and_evaluated_with_the_other_gives_the_same_detections(tmp_path_factory):
    from asffbench.data.loaders import build_val_loader
    from asffbench.settings import data_settings
    from asffbench.runs.evaluate import evaluate
    from asffbench.weights.load import build_with_weights
    from asffbench.weights.resolve import EVAL, resolve_weights
    from asffbench.runs.training import train

    run_dir = tmp_path_factory.mktemp("sampled")
    common = TINY + [
        "img_size=96", "tricks.multiscale=false", "data.workers=0", "data.synth.images=16",
        f"data.cache_dir={tmp_path_factory.getbasetemp() / 'asffbench-cache'}", "train.batch_size=2",
        "train.epochs=1", "train.max_iters_per_epoch=3", "train.warmup_epochs=0", "train.lr=0.02",
        "eval.batch_size=4", f"run_dir={run_dir}",
    ]
    train(compose_config(common + ["model.deform_conv=sampled"]), run_dir)
    configs = {choice: compose_config(common + [f"model.deform_conv={choice}"]) for choice in ("sampled", "torchvision")}
    # What decides the detections: the raw outputs of the trained weights on the val images.
    images = next(iter(build_val_loader(data_settings(configs["sampled"]))[0]))[0]
    outputs = {}
    for choice, cfg in configs.items():
        weights = resolve_weights(cfg, EVAL)
        assert weights.path == run_dir / "checkpoints" / "last.pt"
        model = build_with_weights(cfg, weights).eval()
        assert type(deform_modules(model)[0]) is (SampledDeformConv2d if choice == "sampled" else DeformConv2d)
        with torch.no_grad():
            outputs[choice] = model(images).levels
    for got, expected in zip(outputs["sampled"], outputs["torchvision"]):
        torch.testing.assert_close(got.pred, expected.pred, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(got.anchors, expected.anchors, rtol=1e-4, atol=1e-5)
    # The detections themselves. A barely trained model scores many boxes alike, and NMS may keep
    # a different box of such a tie, so each image's detections are compared as sorted scores.
    detections = {}
    for choice, cfg in configs.items():
        evaluate(cfg, run_dir)
        detections[choice] = json.loads((run_dir / "detections.json").read_text())
    assert len(detections["torchvision"]) > 10
    scores = {choice: scores_by_image(found) for choice, found in detections.items()}
    assert scores["sampled"].keys() == scores["torchvision"].keys()
    for image_id, expected in scores["torchvision"].items():
        assert scores["sampled"][image_id] == pytest.approx(expected, abs=1e-5)


def scores_by_image(detections: list[dict]) -> dict[int, list[float]]:
    by_image: dict[int, list[float]] = {}
    for detection in detections:
        by_image.setdefault(detection["image_id"], []).append(detection["score"])
    return {image_id: sorted(scores) for image_id, scores in by_image.items()}


def test_flops_count_the_same_for_both_implementations():
    from asffbench.bench.flops import count_flops

    counts = [
        count_flops(build_model(compose_config(TINY + [f"model.deform_conv={c}"])), img_size=64)
        for c in ("sampled", "torchvision")
    ]
    assert counts[0].gmacs == counts[1].gmacs
    assert counts[0].gmacs_by_part == counts[1].gmacs_by_part
