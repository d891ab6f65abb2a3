"""bench.runtime: ONNX Runtime named in the bench result, eager-only switches and missing
providers refused in one line."""

from __future__ import annotations

import pytest

from asffbench.runs.benchmark import benchmark
from asffbench.config.compose import compose_config
from asffbench.deploy.export import export_onnx
from asffbench.deploy.session import open_session
from asffbench.errors import UserError
from asffbench.settings import RuntimeSettings
from tests.deploy.test_export import IMG, tiny

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
