"""The speed protocol: warm-up, synchronized timing of forward and NMS separately, repeats.

Every choice is a parameter and is returned with the figures, so a record states its protocol.
"""

from __future__ import annotations

import statistics
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import Callable, ContextManager

import torch
from torch import nn

from asffbench.device import synchronize

PostProcess = Callable[[list], list]


@dataclass
class SpeedProtocol:
    warmup: int
    iters: int
    repeats: int
    batch_size: int
    precision: str
    fused: bool
    img_size: int
    device: str
    synchronized: bool = True
    nms_included: bool = True
    input: str = "random normal images, fixed seed"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SpeedResult:
    forward_ms: list[float]  # per repeat: mean milliseconds per batch
    nms_ms: list[float]
    batch_size: int

    @staticmethod
    def _summary(values: list[float]) -> dict[str, float]:
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return {"mean": statistics.fmean(values), "std": std}

    def latency_ms(self) -> dict[str, dict[str, float]]:
        return {"forward": self._summary(self.forward_ms), "nms": self._summary(self.nms_ms)}

    def fps(self) -> float:
        """Images per second over forward + NMS (NMS counted when it was timed)."""
        per_batch_s = (statistics.fmean(self.forward_ms) + statistics.fmean(self.nms_ms)) / 1e3
        return self.batch_size / per_batch_s if per_batch_s > 0 else float("inf")


def autocast_context(device: torch.device, precision: str) -> ContextManager:
    if precision == "fp32":
        return nullcontext()
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    return torch.autocast(device_type=device.type, dtype=dtype)


def measure_speed(
    model: nn.Module,
    protocol: SpeedProtocol,
    postprocess: PostProcess | None,
    device: torch.device,
    seed: int = 0,
) -> SpeedResult:
    """Time `protocol.repeats` rounds of `protocol.iters` batches after `protocol.warmup` batches.

    Forward and post-processing (decode + NMS) are timed separately, each between device
    synchronizations, so asynchronous CUDA launches are not mistaken for finished work.
    """
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(
        protocol.batch_size, 3, protocol.img_size, protocol.img_size, generator=generator
    ).to(device)
    model.eval()
    forward_ms: list[float] = []
    nms_ms: list[float] = []
    with torch.inference_mode(), autocast_context(device, protocol.precision):
        for _ in range(protocol.warmup):
            out = model(images)
            if postprocess is not None:
                postprocess(out.levels)
        synchronize(device)
        for _ in range(protocol.repeats):
            forward_total = nms_total = 0.0
            for _ in range(protocol.iters):
                start = time.perf_counter()
                out = model(images)
                synchronize(device)
                middle = time.perf_counter()
                if postprocess is not None:
                    postprocess(out.levels)
                    synchronize(device)
                end = time.perf_counter()
                forward_total += middle - start
                nms_total += end - middle
            forward_ms.append(forward_total / protocol.iters * 1e3)
            nms_ms.append(nms_total / protocol.iters * 1e3)
    return SpeedResult(forward_ms=forward_ms, nms_ms=nms_ms, batch_size=protocol.batch_size)
