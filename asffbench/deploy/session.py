"""ONNX Runtime sessions, and an exported detector that answers like the eager one.

`OrtDetector(images)` returns the `DetectorOutput` of the eager model (from a `raw` graph), so the
benchmark's timing loop and the evaluation's post-processing run on it unchanged.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn

from asffbench.deploy.export import INPUT_NAME, STRIDES_KEY, export_onnx
from asffbench.deploy.graph import levels_from_raw
from asffbench.deploy.optional import require
from asffbench.errors import UserError
from asffbench.models.outputs import DetectorOutput
from asffbench.settings import RuntimeSettings

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
             "tensorrt": "TensorrtExecutionProvider"}
OPTIMIZATION_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
                       "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def open_session(onnx_bytes: bytes, settings: RuntimeSettings):
    """An InferenceSession with the settings' provider (ONNX Runtime's CPU provider has no fallback
    to pick: a provider this install lacks is refused with one line), optimisation and threads."""
    ort = require("onnxruntime", settings.option)
    provider = PROVIDERS[settings.provider]
    available = ort.get_available_providers()
    if provider not in available:
        raise UserError(
            f"{settings.option}: ONNX Runtime's {provider} is not available here (available: "
            f"{', '.join(available)}); bench.ort_provider={settings.provider} needs a CUDA machine with "
            "onnxruntime-gpu (and TensorRT for tensorrt)"
        )
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPTIMIZATION_LEVELS[settings.optimization])
    options.intra_op_num_threads = settings.threads
    return ort.InferenceSession(onnx_bytes, options, providers=[provider])


def session_fields(session, settings: RuntimeSettings) -> dict:
    """What a result states about the runtime: name, version, provider, optimisation, threads."""
    ort = require("onnxruntime", settings.option)
    return {"runtime": "onnxruntime", "runtime_version": ort.__version__,
            "execution_provider": session.get_providers()[0],
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

    def forward(self, images: Tensor) -> DetectorOutput:
        outputs = self.session.run(None, {INPUT_NAME: images.detach().float().cpu().numpy()})
        return levels_from_raw([torch.from_numpy(o).to(images.device) for o in outputs], self.strides)


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
