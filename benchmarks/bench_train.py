"""Training throughput (images/s) of the full-size ASFF model and of the tiny model, and the share
of a full-size training step spent in the loss (target: at most 10%).

A thin driver over `asffbench bench --mode train` (asffbench.bench.train_step): the step timed is
the trainer's own (forward, loss, backward, optimizer step with schedule and EMA), phase by phase
between device synchronisations, on real batches of the synthetic tiny COCO at a fixed size (no
multi-scale). The loader's own throughput (bench's, measured while preparing the batches) is
printed beside it: the data pipeline should deliver at least twice what the smallest model consumes.

    python benchmarks/bench_train.py [--img-size 320] [--batch 4] [--iters 3] [--device auto]
"""

from __future__ import annotations

import argparse

import torch

from asffbench.runs.benchmark import benchmark
from asffbench.config.compose import compose_config
from asffbench.device import device_name, resolve_device

MODELS = {
    "asff (darknet53)": ["model=darknet53", "fusion=asff"],
    "asff (tiny)": ["model=tiny", "fusion=asff"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--img-size", type=int, default=320)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    device = resolve_device(args.device)
    common = [
        f"img_size={args.img_size}", f"train.batch_size={args.batch}", "model.num_classes=80",
        f"data.workers={args.workers}", f"device={device.type}", "bench.mode=train",
        f"bench.warmup={args.warmup}", f"bench.iters={args.iters}", "bench.repeats=1",
        # As training does on CUDA (train.amp, on by default): fp16 autocast with the gradient scaler.
        f"bench.precision={'fp16' if device.type == 'cuda' else 'fp32'}",
    ]
    print(f"device: {device_name(device)} ({device.type}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, {args.img_size} px, batch {args.batch} (train.batch_size), "
          f"{args.warmup} warm-up + {args.iters} timed steps")
    loader = None
    for name, overrides in MODELS.items():
        result = benchmark(compose_config(common + overrides))
        phases = {phase: summary["mean"] for phase, summary in result["phases_ms"].items()}
        step_ms = result["step_ms"]["mean"]
        print(f"{name:<18} {result['images_per_s']:8.2f} img/s  step {step_ms:8.1f} ms ("
              + ", ".join(f"{phase} {ms:.1f}" for phase, ms in phases.items())
              + f")  loss share {100 * phases['loss'] / step_ms:.1f}%{'  amp' if result['amp_scaler'] else ''}")
        loader = result["loader"]
    print(f"{'loader':<18} {loader['images_per_s']:8.2f} img/s  ({loader['workers']} workers, augmentation on, "
          f"{loader['batches_prepared'] - 1} batches timed)")


if __name__ == "__main__":
    main()
