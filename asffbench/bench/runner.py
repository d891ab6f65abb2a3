"""`bench.mode=infer`: params, FLOPs and speed of one configured model, as one JSON-able dict.

The steps: check the protocol settings, get the model to measure (given, loaded from weights or
freshly built), count params and FLOPs, choose the timed inputs (val images for trained weights),
prepare the timed copy (fused, channels-last, compiled), time it (halving the batch on CUDA
out-of-memory), count the boxes entering NMS, and assemble the result.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Iterator, Optional

import torch
from torch import nn

from asffbench.bench.flops import FlopCount, count_flops
from asffbench.bench.fuse import fuse_conv_bn
from asffbench.bench.inputs import TimingImages, input_kind, timing_images
from asffbench.bench.onnx_timing import check_runtime, torch_fields
from asffbench.bench.oom import Fitted, run_halving_on_oom
from asffbench.bench.params import count_params, params_by_part
from asffbench.bench.speed import SpeedProtocol, SpeedResult, autocast_context, measure_speed
from asffbench.deploy.session import exported_model
from asffbench.device import device_name
from asffbench.engine.inference import forward_batches
from asffbench.engine.postprocess import nms_candidate_counts, postprocess
from asffbench.environment import software_versions
from asffbench.errors import UserError
from asffbench.record.layout import FLOPS_CONVENTION
from asffbench.settings import BenchRun, BenchSettings


def protocol_of(settings: BenchSettings, batch_size: int, device: torch.device, images: TimingImages,
                nms: bool) -> SpeedProtocol:
    return SpeedProtocol(
        warmup=settings.warmup, iters=settings.iters, repeats=settings.repeats, batch_size=batch_size,
        precision=settings.precision, fused=settings.fuse, img_size=settings.img_size, device=device.type,
        nms_included=nms, input=images.description, channels_last=settings.channels_last,
        compile=settings.compile, cudnn_benchmark=settings.cudnn_benchmark,
    )


def check_machine(settings: BenchSettings, device: torch.device) -> None:
    """What the machine must offer for the settings (one-line UserError naming the key)."""
    if settings.precision == "fp16" and device.type != "cuda":
        raise UserError("bench.precision=fp16: half-precision autocast needs device=cuda")
    if settings.find_max and device.type != "cuda":
        raise UserError(
            "bench.batch_size=max: the largest batch is found by halving on CUDA out-of-memory, "
            "which needs device=cuda; give a number on CPU"
        )
    check_runtime(settings)


def benchmark_inference(run: BenchRun, device: torch.device, model: nn.Module, has_weights: bool) -> dict:
    """`bench.mode=infer`: params, FLOPs, forward and NMS speed of `model`; `has_weights` (whether
    it carries learned detector weights) decides between val and random images (`bench.input=auto`)."""
    settings = run.bench
    model = model.to(device).eval()
    flops = count_flops(model, settings.img_size, batch_size=1)
    images = timing_images(run.data.data, input_kind(settings.input, has_weights), settings.batch_size)
    # The compiling call uses a timed batch, so the timed shape is the one compiled.
    timed = prepare_for_timing(model, settings, device, images.batches(settings.batch_size)[0])
    nms = partial(postprocess, **settings.postprocess.kwargs()) if settings.nms else None
    fitted = run_halving_on_oom(
        lambda batch: measure_speed(
            timed.model, protocol_of(settings, batch, device, images, nms is not None), nms, device,
            seed=settings.seed, batches=images.batches(batch),
        ),
        settings.batch_size,
    )
    candidates = mean_nms_candidates(timed.model, images.batches(fitted.batch_size), settings, device)
    return assemble_result(settings, device, model, flops, timed, fitted, images, has_weights, candidates)


@dataclass
class TimedModel:
    model: nn.Module  # what is timed: fused / channels-last / compiled, or the exported graph
    fused_pairs: int
    compile_seconds: Optional[float]
    runtime: dict  # runtime, version, execution provider, graph optimisation, threads


def prepare_for_timing(model: nn.Module, settings: BenchSettings, device: torch.device, sample: torch.Tensor) -> TimedModel:
    if settings.runtime.onnx:
        exported, fields = exported_model(model, settings.img_size, settings.runtime)
        return TimedModel(exported, 0, None, fields)
    timed, fused_pairs = fuse_conv_bn(model) if settings.fuse else (model, 0)
    if settings.channels_last:
        timed = timed.to(memory_format=torch.channels_last)
    compile_seconds = None
    if settings.compile != "false":
        timed, compile_seconds = compile_model(timed, settings, device, sample)
    return TimedModel(timed, fused_pairs, compile_seconds, torch_fields(device))


def compile_model(model: nn.Module, settings: BenchSettings, device: torch.device, sample: torch.Tensor) -> tuple[nn.Module, float]:
    """torch.compile, and one call to compile it now (not in the timed phase); a model that cannot
    compile stops with one line naming what failed."""
    compiled = torch.compile(model, mode=settings.compile)
    if settings.channels_last:
        sample = sample.contiguous(memory_format=torch.channels_last)
    started = time.perf_counter()
    with compile_errors(settings), torch.inference_mode(), autocast_context(device, settings.precision):
        compiled(sample.to(device))
    return compiled, time.perf_counter() - started


@contextmanager
def compile_errors(settings: BenchSettings) -> Iterator[None]:
    """Around the first call of a compiled model: a failure to compile becomes one line; CUDA
    out-of-memory passes (the caller halves the batch)."""
    try:
        yield
    except torch.cuda.OutOfMemoryError:
        raise
    except Exception as err:  # noqa: BLE001 - dynamo/inductor raise many types; all end here
        raise UserError(f"bench.compile={settings.compile}: torch.compile failed: {compile_failure(err)}") from None


def compile_failure(err: BaseException) -> str:
    """The first line of the error, which names the operator or construct that failed."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0] if lines else 'no message'}"[:300]


def mean_nms_candidates(model: nn.Module, batches: list, settings: BenchSettings, device: torch.device) -> float:
    """Mean number of candidates per image entering NMS on the timed batches (untimed), through
    the inference loop evaluation uses."""
    counts = []
    with torch.inference_mode(), autocast_context(device, settings.precision):
        for step in forward_batches(model, ((batch, None, []) for batch in batches), device,
                                    channels_last=settings.channels_last):
            counts.extend(nms_candidate_counts(step.output.levels, score_thresh=settings.postprocess.score_thresh,
                                               multi_label=settings.postprocess.multi_label,
                                               score_inclusive=settings.postprocess.score_inclusive).tolist())
    return sum(counts) / len(counts)


def run_fields(settings: BenchSettings, device: torch.device, model: nn.Module, batch_size: int) -> dict:
    """What a result of either bench mode states about the timed run: model, device, settings.

    `deform_conv` is the deformable-conv implementation timed (`model.deform_conv` resolved; None
    without guided anchoring, which has no deformable conv): the speed depends on it.
    """
    return {
        "fusion": settings.fusion,
        "model": settings.model,
        "deform_conv": settings.deform_conv,
        "params": count_params(model),
        "img_size": settings.img_size,
        "batch_size": batch_size,
        "device": device.type,
        "device_name": device_name(device),
        "precision": settings.precision,
        "channels_last": settings.channels_last,
        "compile": settings.compile,
        "cudnn_benchmark": settings.cudnn_benchmark,
    }


def assemble_result(settings: BenchSettings, device: torch.device, model: nn.Module,
                    flops: FlopCount, timed: TimedModel, fitted: Fitted[SpeedResult],
                    images: TimingImages, has_weights: bool, candidates: float) -> dict:
    speed = fitted.value
    protocol = protocol_of(settings, fitted.batch_size, device, images, settings.nms)
    versions = software_versions()
    return {
        "mode": "infer",
        **run_fields(settings, device, model, fitted.batch_size),
        "params_by_part": params_by_part(model),
        "gmacs": flops.gmacs,
        "gflops": flops.gflops,
        "gmacs_by_part": flops.gmacs_by_part,
        "flops_convention": FLOPS_CONVENTION,
        "fused": settings.fuse,
        "fused_conv_bn_pairs": timed.fused_pairs,
        "compile_seconds": timed.compile_seconds,
        "runtime": timed.runtime,
        "latency_ms": speed.latency_ms(),
        "fps": speed.fps(),
        "fps_median": speed.fps_median(),
        "input": {
            "kind": images.kind,
            "description": images.description,
            "images": len(images.images),
            "model_has_weights": has_weights,
            "nms_candidates_per_image": candidates,
        },
        "memory": speed.memory,
        "protocol": {**protocol.as_dict(), "oom_fallbacks": fitted.halvings,
                     "batch_size_requested": "max" if settings.find_max else settings.batch_size,
                     "batch_size_from": settings.batch_size_from,
                     "timed_iterations": len(speed.forward_ms), "torch_threads": torch.get_num_threads()},
        "uncounted_ops": flops.uncounted_ops,
        "torch": versions["torch"],
        "versions": versions,
    }
