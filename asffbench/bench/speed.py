"""The speed protocol: warm-up, synchronized timing of forward and NMS separately, repeats.

Every choice is a parameter and is returned with the figures, so a record states its protocol.
Every timed iteration is kept, so the result reports the distribution, not only the mean.
"""

from __future__ import annotations

import itertools
import statistics
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Callable, ContextManager, Iterator, Optional, Sequence

import torch
from torch import Tensor, nn

from asffbench.bench.timing_stats import percentile, summarize
from asffbench.device import synchronize
from asffbench.memory import PeakMemory

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
    channels_last: bool = False
    compile: str = "false"
    cudnn_benchmark: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SpeedResult:
    forward_ms: list[float]  # every timed iteration: milliseconds per batch
    nms_ms: list[float]
    batch_size: int
    memory: dict = field(default_factory=dict)  # PeakMemory.result() of the timed iterations

    @property
    def total_ms(self) -> list[float]:
        return [f + n for f, n in zip(self.forward_ms, self.nms_ms)]

    def latency_ms(self) -> dict[str, dict[str, float]]:
        return {
            "forward": summarize(self.forward_ms),
            "nms": summarize(self.nms_ms),
            "total": summarize(self.total_ms),
        }

    def fps(self) -> float:
        """Images per second over forward + NMS (NMS counted when it was timed)."""
        return images_per_second(self.batch_size, statistics.fmean(self.total_ms))

    def fps_median(self) -> float:
        return images_per_second(self.batch_size, percentile(self.total_ms, 50))


def images_per_second(batch_size: int, ms_per_batch: float) -> float:
    return batch_size / (ms_per_batch / 1e3) if ms_per_batch > 0 else float("inf")


def autocast_context(device: torch.device, precision: str) -> ContextManager:
    if precision == "fp32":
        return nullcontext()
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    return torch.autocast(device_type=device.type, dtype=dtype)


@contextmanager
def cudnn_benchmark(enabled: bool) -> Iterator[None]:
    """cuDNN's autotuner on or off for the timed phase only; the previous setting comes back."""
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous


def random_batch(protocol: SpeedProtocol, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(protocol.batch_size, 3, protocol.img_size, protocol.img_size, generator=generator)


def measure_speed(
    model: nn.Module,
    protocol: SpeedProtocol,
    postprocess: PostProcess | None,
    device: torch.device,
    seed: int = 0,
    batches: Optional[Sequence[Tensor]] = None,
) -> SpeedResult:
    """Time `protocol.repeats` rounds of `protocol.iters` batches after `protocol.warmup` batches.

    `batches` (default: one random batch) are moved to the device beforehand and cycled.
    Forward and post-processing (decode + NMS) are timed separately, each between device
    synchronizations, so asynchronous CUDA launches are not mistaken for finished work.
    """
    memory_format = torch.channels_last if protocol.channels_last else torch.contiguous_format
    batches = [b.to(device).contiguous(memory_format=memory_format) for b in (batches or [random_batch(protocol, seed)])]
    inputs = itertools.cycle(batches)
    model.eval()
    forward_ms: list[float] = []
    nms_ms: list[float] = []
    with torch.inference_mode(), autocast_context(device, protocol.precision), cudnn_benchmark(protocol.cudnn_benchmark):
        for _ in range(protocol.warmup):
            out = model(next(inputs))
            if postprocess is not None:
                postprocess(out.levels)
        synchronize(device)
        with PeakMemory(device) as peak:
            for _ in range(protocol.repeats * protocol.iters):
                images = next(inputs)
                start = time.perf_counter()
                out = model(images)
                synchronize(device)
                middle = time.perf_counter()
                if postprocess is not None:
                    postprocess(out.levels)
                    synchronize(device)
                end = time.perf_counter()
                forward_ms.append((middle - start) * 1e3)
                nms_ms.append((end - middle) * 1e3)
    return SpeedResult(forward_ms=forward_ms, nms_ms=nms_ms, batch_size=protocol.batch_size, memory=peak.result())
