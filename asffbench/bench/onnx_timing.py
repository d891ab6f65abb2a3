"""`bench.runtime`: the settings it refuses, and what a torch result states about its runtime.

With `onnxruntime` the model is exported and timed through `deploy.session.OrtDetector`, which
answers like the eager model, so the protocol (warm-up, repeats, every iteration kept, NMS timed
apart in eager PyTorch, peak memory) is the same code.
"""

from __future__ import annotations

import torch

from asffbench.errors import UserError
from asffbench.settings import BenchSettings


def check_runtime(settings: BenchSettings) -> None:
    """Eager-only switches are refused with ONNX Runtime (one line naming the key)."""
    if not settings.runtime.onnx:
        return
    eager_only = {"bench.fuse=true": settings.fuse, "bench.channels_last=true": settings.channels_last,
                  f"bench.compile={settings.compile}": settings.compile != "false",
                  "bench.precision=bf16": settings.precision == "bf16"}
    for key, given in eager_only.items():
        if given:
            raise UserError(f"{key}: an eager PyTorch setting; bench.runtime=onnxruntime times the "
                            "exported fp32 graph (ONNX Runtime folds batch norm itself)")
    if settings.precision == "fp16" and settings.runtime.provider != "tensorrt":
        raise UserError(f"bench.precision=fp16: with bench.runtime=onnxruntime only bench.ort_provider=tensorrt "
                        f"runs fp16 (TensorRT's fp16 kernels); the {settings.runtime.provider} provider runs "
                        "the exported fp32 graph")


def torch_fields(device: torch.device) -> dict:
    return {"runtime": "torch", "runtime_version": torch.__version__, "execution_provider": device.type,
            "graph_optimization": None, "threads": torch.get_num_threads()}
