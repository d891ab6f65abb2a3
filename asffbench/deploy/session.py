"""ONNX Runtime sessions, and an exported detector that answers like the eager one.

`OrtDetector(images)` returns the `DetectorOutput` of the eager model (from a `raw` graph), so the
benchmark's timing loop and the evaluation's post-processing run on it unchanged.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn

from asffbench.deploy.export import INPUT_NAME, REG_MAX_KEY, STRIDES_KEY, export_onnx
from asffbench.deploy.graph import levels_from_raw
from asffbench.deploy.optional import require
from asffbench.errors import UserError
from asffbench.models.outputs import DetectorOutput
from asffbench.settings import RuntimeSettings

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
             "tensorrt": "TensorrtExecutionProvider"}
# onnxruntime-gpu provides the `onnxruntime` module too: it replaces onnxruntime, never beside it.
GPU_INSTALL_HINT = ("onnxruntime-gpu in place of onnxruntime (pip install 'asffbench[deploy-gpu]'; "
                    "tensorrt-cu12 too for tensorrt)")
OPTIMIZATION_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
                       "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def provider_chain(settings: RuntimeSettings) -> list:
    """The providers a session gets, by precedence: ONNX Runtime runs each node on the first one
    that takes it, so TensorRT leaves what it cannot build to CUDA, and CUDA leaves the rest (shape
    arithmetic) to the CPU. TensorRT's fp16 kernels are on with `fp16` (bench.precision=fp16)."""
    chain = {"cpu": [PROVIDERS["cpu"]], "cuda": [PROVIDERS["cuda"], PROVIDERS["cpu"]],
             "tensorrt": [(PROVIDERS["tensorrt"], {"trt_fp16_enable": settings.fp16}), PROVIDERS["cuda"],
                          PROVIDERS["cpu"]]}
    return chain[settings.provider]


def provider_names(chain: list) -> list[str]:
    return [entry[0] if isinstance(entry, tuple) else entry for entry in chain]


def open_session(onnx_bytes: bytes, settings: RuntimeSettings):
    """An InferenceSession with the settings' provider chain, optimisation and threads. A provider
    this install lacks, or one that fails to start, is refused with one line: ONNX Runtime would
    otherwise fall back to the CPU and the result would time another provider than asked."""
    ort = require("onnxruntime", settings.option)
    chain = provider_chain(settings)
    available = ort.get_available_providers()
    missing = [name for name in provider_names(chain) if name not in available]
    if missing:
        raise UserError(
            f"{settings.option}: ONNX Runtime's {missing[0]} is not available here (available: "
            f"{', '.join(available)}); bench.ort_provider={settings.provider} needs a CUDA machine with "
            f"{GPU_INSTALL_HINT}"
        )
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPTIMIZATION_LEVELS[settings.optimization])
    options.intra_op_num_threads = settings.threads
    try:
        # enable_fallback=0: a provider failing to start raises instead of a retry on the CPU alone.
        session = ort.InferenceSession(onnx_bytes, options, providers=chain, enable_fallback=0)
    except (RuntimeError, ValueError) as err:
        first = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
        raise UserError(f"{settings.option}: ONNX Runtime could not start {PROVIDERS[settings.provider]}: "
                        f"{first[:300]}") from None
    session.disable_fallback()  # nor a retry on other providers when a run fails
    if session.get_providers()[0] != PROVIDERS[settings.provider]:
        raise UserError(f"{settings.option}: ONNX Runtime runs {session.get_providers()[0]}, not the "
                        f"{PROVIDERS[settings.provider]} asked for")
    return session


def session_fields(session, settings: RuntimeSettings) -> dict:
    """What a result states about the runtime: name, version, the provider the session runs first
    and all its providers (the fallbacks), optimisation, threads."""
    ort = require("onnxruntime", settings.option)
    return {"runtime": "onnxruntime", "runtime_version": ort.__version__,
            "execution_provider": session.get_providers()[0], "execution_providers": session.get_providers(),
            "graph_optimization": settings.optimization, "threads": settings.threads}


class OrtDetector(nn.Module):
    """A `raw` exported graph behind the detector's interface: images in, `DetectorOutput` out."""

    def __init__(self, session) -> None:
        super().__init__()
        self.session = session
        strides = session.get_modelmeta().custom_metadata_map.get(STRIDES_KEY)
        if strides is None:
            raise UserError("onnx model: no stride metadata; export it with `asffbench export`")
        self.strides = [int(s) for s in strides.split(",")]
        # Graphs exported before the anchor-free family have no reg_max: anchor-based.
        self.reg_max = int(session.get_modelmeta().custom_metadata_map.get(REG_MAX_KEY, "0"))

    def forward(self, images: Tensor) -> DetectorOutput:
        outputs = self.session.run(None, {INPUT_NAME: images.detach().float().cpu().numpy()})
        return levels_from_raw([torch.from_numpy(o).to(images.device) for o in outputs], self.strides,
                               self.reg_max)


def exported_model(model: nn.Module, img_size: int, settings: RuntimeSettings) -> tuple[OrtDetector, dict]:
    """`model` exported (raw graph, dynamic batch) into a session: the stand-in `bench.runtime`
    times, and the result's `runtime` fields (with opset and the
    seconds the export and session took)."""
    started = time.perf_counter()
    exported = export_onnx(model, img_size)
    session = open_session(exported.onnx_bytes, settings)
    fields = {**session_fields(session, settings), "opset": exported.opset,
              "export_seconds": time.perf_counter() - started}
    return OrtDetector(session), fields
