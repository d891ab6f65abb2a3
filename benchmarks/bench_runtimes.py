"""Eager PyTorch against ONNX Runtime: forward latency and the ASFF / none ratio in each runtime.

Each (model, size, batch) cell times fusion none and asff under both runtimes by bench's speed
protocol (asffbench.bench.speed) in alternating rounds (asffbench.bench.rounds), so the machine's
drift hits all four alike; the exported graph runs through deploy.session.OrtDetector.

    python benchmarks/bench_runtimes.py [--models tiny,darknet53] [--sizes 320,608] [--batches 1,8]
        [--rounds 3] [--iters 2] [--ort-threads 0]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics

import torch

from asffbench.bench.rounds import alternating_rounds, medians
from asffbench.bench.speed import SpeedProtocol, measure_speed
from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.deploy.session import exported_model
from asffbench.settings import RuntimeSettings

FUSIONS = ("none", "asff")
RUNTIMES = ("torch", "onnxruntime")


def models_of(model: str, size: int, threads: int) -> dict[str, torch.nn.Module]:
    """Per "fusion/runtime": the eager model, or its export in an ONNX Runtime session."""
    out = {}
    for fusion in FUSIONS:
        torch.manual_seed(0)
        cfg = compose_config([f"model={model}", f"fusion={fusion}", f"img_size={size}", "device=cpu",
                              "model.deform_conv=sampled"])
        eager = build_model(cfg).eval()
        out[f"{fusion}/torch"] = eager
        out[f"{fusion}/onnxruntime"] = exported_model(eager, size, RuntimeSettings("onnxruntime", threads=threads))[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,darknet53")
    parser.add_argument("--sizes", default="320,608")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--ort-threads", type=int, default=0)
    args = parser.parse_args()
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), load average {os.getloadavg()[0]:.1f}; "
          f"forward only, fp32, warm-up {args.warmup}, {args.iters} iters x {args.rounds} alternating rounds, median")
    print(f"{'model':<10} {'px':>4} {'batch':>5} {'torch ms (asff)':>16} {'ORT ms (asff)':>14} "
          f"{'torch/ORT':>9} {'asff/none torch':>15} {'asff/none ORT':>13}")
    for model, size in itertools.product(args.models.split(","), map(int, args.sizes.split(","))):
        timed = models_of(model, size, args.ort_threads)
        for batch in map(int, args.batches.split(",")):
            protocol = SpeedProtocol(warmup=args.warmup, iters=args.iters, repeats=1, batch_size=batch,
                                     precision="fp32", fused=False, img_size=size, device="cpu", nms_included=False)
            ms = medians(alternating_rounds(
                {name: (lambda m=m: statistics.fmean(measure_speed(m, protocol, None, torch.device("cpu")).forward_ms))
                 for name, m in timed.items()}, args.rounds))
            print(f"{model:<10} {size:>4} {batch:>5} {ms['asff/torch']:>16.1f} {ms['asff/onnxruntime']:>14.1f} "
                  f"{ms['asff/torch'] / ms['asff/onnxruntime']:>9.2f} {ms['asff/torch'] / ms['none/torch']:>15.3f} "
                  f"{ms['asff/onnxruntime'] / ms['none/onnxruntime']:>13.3f}")


if __name__ == "__main__":
    main()
