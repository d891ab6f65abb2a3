"""eval.runtime=onnxruntime: the exported model through the same post-processing scores the eager
model's AP (within 0.1 AP) on the synthetic set, and the metrics name the runtime."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from asffbench.config.compose import compose_config
from asffbench import extras
from asffbench.errors import UserError
from asffbench.runs.evaluate import evaluate
from asffbench.runs.training import train
from tests.engine.test_train_loop import tiny_overrides

pytest.importorskip("onnxruntime")

JITTER = 0.05


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny ASFF model after four training steps: its scores are neither constant nor tied."""
    root = tmp_path_factory.mktemp("eval_runtime")
    cache = tmp_path_factory.getbasetemp() / "asffbench-cache"

    def config(name: str, *extra: str):
        return compose_config(tiny_overrides(root / name, cache, "fusion=asff", "model.deform_conv=sampled",
                                             "bench.ort_threads=1", "train.ema=false", "train.epochs=2",
                                             "train.max_iters_per_epoch=2", *extra))

    model = train(config("train"), root / "train").model
    # So few steps leave every score near the objectness prior: a fixed jitter of the weights
    # spreads them, so AP depends on their order (as a trained model's would).
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * JITTER)
    return model, config, root


def test_onnx_runtime_ap_equals_eager_ap(trained):
    model, config, root = trained
    eager = evaluate(config("torch"), root / "torch", model=model)
    exported = evaluate(config("ort", "eval.runtime=onnxruntime"), root / "ort", model=model)
    assert eager["runtime"]["runtime"] == "torch"
    assert exported["runtime"]["runtime"] == "onnxruntime" and exported["runtime"]["opset"] == 19
    assert json.loads((root / "ort" / "metrics.json").read_text())["runtime"]["runtime"] == "onnxruntime"
    scores = {name: sorted(d["score"] for d in json.loads((root / name / "detections.json").read_text()))
              for name in ("torch", "ort")}
    assert eager["num_detections"] > 50 and len(set(scores["torch"])) > 0.2 * len(scores["torch"])  # untied
    for name in ("AP", "AP50", "AP75", "AR100"):
        assert exported[name] == pytest.approx(eager[name], abs=0.001), name
    # The same detections, not only the same summary: AP of a barely trained model is near 0.
    assert exported["num_detections"] == eager["num_detections"]
    assert scores["ort"] == pytest.approx(scores["torch"], abs=1e-4)


def test_onnx_runtime_evaluation_without_the_extra_says_what_to_install(trained, monkeypatch):
    model, config, root = trained

    def not_installed(name: str):
        raise ImportError(name)

    monkeypatch.setattr(extras, "importlib", SimpleNamespace(import_module=not_installed))
    with pytest.raises(UserError) as err:
        evaluate(config("missing", "eval.runtime=onnxruntime"), root / "missing", model=model)
    message = str(err.value)
    assert "eval.runtime=onnxruntime" in message and "asffbench[deploy]" in message and "\n" not in message
    assert not (root / "missing" / "metrics.json").exists()


def test_fp16_evaluation_is_refused_with_onnx_runtime(trained):
    model, config, root = trained
    with pytest.raises(UserError, match=r"eval\.precision=fp16"):
        evaluate(config("fp16", "eval.runtime=onnxruntime", "eval.precision=fp16"), root / "fp16", model=model)
