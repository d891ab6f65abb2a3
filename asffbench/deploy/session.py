"""ONNX Runtime sessions, and an exported detector that answers like the eager one.

`OrtDetector(images)` returns the `DetectorOutput` of the eager model (from a `raw` graph), so the
benchmark's timing loop and the evaluation's post-processing run on it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from asffbench.deploy.export import INPUT_NAME, STRIDES_KEY
from asffbench.deploy.graph import levels_from_raw
from asffbench.deploy.optional import require
from asffbench.errors import UserError
from asffbench.models.outputs import DetectorOutput

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
             "tensorrt": "TensorrtExecutionProvider"}
OPTIMIZATION_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
                       "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


@dataclass(frozen=True)
class OrtSettings:
    """How a session runs: execution provider, graph optimisation level, intra-op threads
    (0: ONNX Runtime's default, one per physical core)."""

    provider: str = "cpu"
    optimization: str = "all"
    threads: int = 0
    option: str = "runtime"  # the option named in errors (bench.runtime, eval.runtime, export)


def open_session(onnx_bytes: bytes, settings: OrtSettings):
    """An InferenceSession on the requested provider; UserError when this install lacks it."""
    ort = require("onnxruntime", settings.option)
    provider = PROVIDERS[settings.provider]
    available = ort.get_available_providers()
    if provider not in available:
        raise UserError(
            f"{settings.option}: ONNX Runtime's {provider} is not available here (available: "
            f"{', '.join(available)}); it needs a CUDA machine and onnxruntime-gpu (TensorRT too for tensorrt)"
        )
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPTIMIZATION_LEVELS[settings.optimization])
    options.intra_op_num_threads = settings.threads
    return ort.InferenceSession(onnx_bytes, options, providers=[provider])


def session_fields(session, settings: OrtSettings) -> dict:
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
