"""`benchmark(cfg)`: params, FLOPs and speed of one configured model, as one JSON-able dict."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Optional

import torch
from omegaconf import DictConfig
from torch import nn

from asffbench.bench.flops import count_flops
from asffbench.config.schema import choice_str
from asffbench.bench.fuse import fuse_conv_bn
from asffbench.bench.params import count_params, params_by_part
from asffbench.bench.speed import SpeedProtocol, measure_speed
from asffbench.device import device_name, resolve_device
from asffbench.environment import software_versions
from asffbench.errors import UserError
from asffbench.record_schema import FLOPS_CONVENTION



def bench_precision(cfg: DictConfig) -> str:
    return choice_str(cfg.bench.precision)


def check_bench_config(cfg: DictConfig, device: torch.device) -> None:
    """What the machine must offer for this protocol (the values are checked at composition)."""
    if bench_precision(cfg) == "fp16" and device.type != "cuda":
        raise UserError("bench.precision=fp16: half-precision autocast needs device=cuda")


def benchmark(cfg: DictConfig, model: Optional[nn.Module] = None) -> dict:
    """Measure the model that `cfg` describes (or `model`, already built) under the bench protocol."""
    from asffbench.build import build_model
    from asffbench.engine.postprocess import postprocess, postprocess_settings

    device = resolve_device(cfg.device)
    check_bench_config(cfg, device)
    if model is None:
        torch.manual_seed(int(cfg.seed))
        model = build_model(cfg)
    model = model.to(device).eval()
    img_size = int(cfg.img_size)
    precision = bench_precision(cfg)

    flops = count_flops(model, img_size, batch_size=1)
    timed_model, fused_pairs = fuse_conv_bn(model) if cfg.bench.fuse else (model, 0)
    nms = partial(postprocess, **postprocess_settings(cfg)) if cfg.bench.nms else None
    protocol = SpeedProtocol(
        warmup=int(cfg.bench.warmup),
        iters=int(cfg.bench.iters),
        repeats=int(cfg.bench.repeats),
        batch_size=int(cfg.bench.batch_size),
        precision=precision,
        fused=bool(cfg.bench.fuse),
        img_size=img_size,
        device=device.type,
        nms_included=nms is not None,
    )
    oom_fallbacks = 0
    while True:
        try:
            speed = measure_speed(timed_model, protocol, nms, device, seed=int(cfg.seed))
            break
        except torch.cuda.OutOfMemoryError:
            # timm's fallback: halve the batch until it fits, and say so in the result.
            if protocol.batch_size == 1:
                raise
            torch.cuda.empty_cache()
            protocol = replace(protocol, batch_size=protocol.batch_size // 2)
            oom_fallbacks += 1

    versions = software_versions()
    return {
        "params": count_params(model),
        "params_by_part": params_by_part(model),
        "gmacs": flops.gmacs,
        "gflops": flops.gflops,
        "gmacs_by_part": flops.gmacs_by_part,
        "flops_convention": FLOPS_CONVENTION,
        "img_size": img_size,
        "batch_size": protocol.batch_size,
        "device": device.type,
        "device_name": device_name(device),
        "precision": precision,
        "fused": bool(cfg.bench.fuse),
        "fused_conv_bn_pairs": fused_pairs,
        "latency_ms": speed.latency_ms(),
        "fps": speed.fps(),
        "protocol": {**protocol.as_dict(), "oom_fallbacks": oom_fallbacks,
                     "torch_threads": torch.get_num_threads()},
        "uncounted_ops": flops.uncounted_ops,
        "torch": versions["torch"],
        "versions": versions,
    }
