"""bench.runtime: ONNX Runtime named in the bench result, eager-only switches and missing
providers refused in one line."""

from __future__ import annotations

import pytest

from asffbench.runs.benchmark import benchmark
from asffbench.config.compose import compose_config
from asffbench.deploy.export import export_onnx
from asffbench.bench.onnx_timing import check_runtime
from asffbench.deploy.session import open_session, provider_chain, provider_names
from asffbench.errors import UserError
from asffbench.settings import RuntimeSettings, bench_settings
from tests.deploy.test_export import IMG, tiny

pytest.importorskip("onnxruntime")

TINY = ["model=tiny", f"img_size={IMG}", "device=cpu", "model.deform_conv=sampled"]
QUICK = ["bench.warmup=1", "bench.iters=2", "bench.repeats=2"]


def test_bench_result_names_onnx_runtime_and_keeps_the_protocol():
    result = benchmark(compose_config([*TINY, *QUICK, "bench.runtime=onnxruntime", "bench.ort_threads=1"]))
    runtime = result["runtime"]
    assert runtime["runtime"] == "onnxruntime" and runtime["runtime_version"]
    assert runtime["execution_provider"] == "CPUExecutionProvider"
    assert runtime["execution_providers"] == ["CPUExecutionProvider"]  # what the session runs, not what was asked
    assert runtime["graph_optimization"] == "all" and runtime["threads"] == 1 and runtime["opset"] == 19
    assert result["protocol"]["timed_iterations"] == 4  # every iteration kept, NMS timed apart
    assert result["latency_ms"]["nms"]["mean"] > 0 and result["input"]["nms_candidates_per_image"] >= 0


@pytest.mark.parametrize("key", ["bench.fuse=true", "bench.channels_last=true", "bench.compile=default"])
def test_eager_only_switches_are_refused_with_onnx_runtime(key):
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        benchmark(compose_config([*TINY, *QUICK, "bench.runtime=onnxruntime", key]))


@pytest.mark.parametrize("provider, name", [("tensorrt", "TensorrtExecutionProvider"),
                                            ("cuda", "CUDAExecutionProvider")])
def test_a_provider_this_install_lacks_is_refused_in_one_line(provider, name):
    exported = export_onnx(tiny("none", False), IMG)
    with pytest.raises(UserError) as err:
        open_session(exported.onnx_bytes, RuntimeSettings("onnxruntime", provider=provider,
                                                          option="bench.runtime=onnxruntime"))
    message = str(err.value)
    assert f"{name} is not available" in message and "\n" not in message
    assert "onnxruntime-gpu" in message and "asffbench[deploy-gpu]" in message


def test_providers_fall_back_from_tensorrt_to_cuda_to_the_cpu():
    names = {p: provider_names(provider_chain(RuntimeSettings("onnxruntime", provider=p)))
             for p in ("cpu", "cuda", "tensorrt")}
    assert names == {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
                     "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]}
    tensorrt = provider_chain(RuntimeSettings("onnxruntime", provider="tensorrt", fp16=True))[0]
    assert tensorrt == ("TensorrtExecutionProvider", {"trt_fp16_enable": True})


def test_fp16_is_tensorrt_only_with_onnx_runtime():
    def settings(*extra: str):
        return bench_settings(compose_config([*TINY, "bench.runtime=onnxruntime", *extra]))

    tensorrt = settings("bench.precision=fp16", "bench.ort_provider=tensorrt")
    check_runtime(tensorrt)  # accepted: TensorRT's fp16 kernels
    assert tensorrt.runtime.fp16 and not settings("bench.ort_provider=tensorrt").runtime.fp16
    for provider in ("cpu", "cuda"):
        with pytest.raises(UserError, match=r"bench\.precision=fp16: .*bench\.ort_provider=tensorrt"):
            check_runtime(settings("bench.precision=fp16", f"bench.ort_provider={provider}"))
    with pytest.raises(UserError, match=r"bench\.precision=bf16"):
        check_runtime(settings("bench.precision=bf16", "bench.ort_provider=tensorrt"))
