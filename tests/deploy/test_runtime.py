"""bench.runtime and eval.runtime: ONNX Runtime named in the bench result, eager-only switches and
missing providers refused in one line, detections and AP after export equal to eager's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from asffbench.bench import benchmark
from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.deploy.export import export_onnx
from asffbench.deploy.session import open_session
from asffbench.engine.evaluate import evaluate
from asffbench.errors import UserError
from asffbench.record_schema import DETECTIONS_NAME
from asffbench.settings import RuntimeSettings
from tests.deploy.test_export import IMG, tiny
from tests.engine.test_train_loop import tiny_overrides

pytest.importorskip("onnxruntime")

TINY = ["model=tiny", f"img_size={IMG}", "device=cpu", "model.deform_conv=sampled"]
QUICK = ["bench.warmup=1", "bench.iters=2", "bench.repeats=2"]


def test_bench_result_names_onnx_runtime_and_keeps_the_protocol():
    result = benchmark(compose_config([*TINY, *QUICK, "bench.runtime=onnxruntime", "bench.ort_threads=1"]))
    runtime = result["runtime"]
    assert runtime["runtime"] == "onnxruntime" and runtime["runtime_version"]
    assert runtime["execution_provider"] == "CPUExecutionProvider"
    assert runtime["graph_optimization"] == "all" and runtime["threads"] == 1 and runtime["opset"] == 19
    assert result["protocol"]["timed_iterations"] == 4  # every iteration kept, NMS timed apart
    assert result["latency_ms"]["nms"]["mean"] > 0 and result["input"]["nms_candidates_per_image"] >= 0


@pytest.mark.parametrize("key", ["bench.fuse=true", "bench.channels_last=true", "bench.compile=default"])
def test_eager_only_switches_are_refused_with_onnx_runtime(key):
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        benchmark(compose_config([*TINY, *QUICK, "bench.runtime=onnxruntime", key]))


def test_a_provider_this_install_lacks_is_refused_in_one_line():
    exported = export_onnx(tiny("none", False), IMG)
    with pytest.raises(UserError) as err:
        open_session(exported.onnx_bytes, RuntimeSettings("onnxruntime", provider="tensorrt",
                                                          option="bench.runtime=onnxruntime"))
    assert "TensorrtExecutionProvider is not available" in str(err.value) and "\n" not in str(err.value)


def spread_scores(model: torch.nn.Module) -> torch.nn.Module:
    """An untrained head's scores are near-ties, whose order float rounding decides; scaled-up
    prediction convs spread them, so eager and exported detections can be compared one by one."""
    torch.manual_seed(0)
    model.apply(lambda m: m.reset_parameters() if hasattr(m, "reset_parameters") else None)
    with torch.no_grad():
        for level in model.head.levels:
            level.pred.weight.mul_(5)
    return model


def detection_key(det: dict) -> tuple:
    return det["image_id"], det["category_id"]


@pytest.mark.slow
def test_detections_and_ap_after_export_equal_eager(tmp_path, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "asffbench-cache"
    results = {}
    for runtime in ("torch", "onnxruntime"):
        run_dir = tmp_path / runtime
        cfg = compose_config(tiny_overrides(run_dir, cache, "fusion=asff", "model.deform_conv=sampled",
                                            "eval.score_thresh=0.01", f"eval.runtime={runtime}"))
        results[runtime] = (evaluate(cfg, run_dir, model=spread_scores(build_model(cfg))),
                            json.loads(Path(run_dir / DETECTIONS_NAME).read_text()))
    (eager, eager_dets), (onnx, onnx_dets) = results["torch"], results["onnxruntime"]
    assert onnx["runtime"]["runtime"] == "onnxruntime" and "runtime" not in eager
    assert eager["num_detections"] > 0 and onnx["num_detections"] == eager["num_detections"]
    assert abs(onnx["AP"] - eager["AP"]) <= 0.001  # within 0.1 AP
    # Per image and class the same detections (boxes are checked at the raw outputs: test_export).
    assert sorted(map(detection_key, eager_dets)) == sorted(map(detection_key, onnx_dets))
    assert sorted(d["score"] for d in eager_dets) == pytest.approx(sorted(d["score"] for d in onnx_dets), abs=1e-4)
