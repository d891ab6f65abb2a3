"""Train loader throughput (images/s) on the smoke configuration (synthetic COCO, tiny model).

The overrides come from the smoke sweep (sweeps/smoke.yaml) so the figure matches what the smoke
runs consume; augmentation, mixup and multi-scale are as configured there, the per-epoch cap is
lifted, and the first batch (worker start-up) is not timed.

    python benchmarks/bench_loader.py [--workers 0] [--epochs 3] [--img-size 96] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from importlib import resources

import torch
import yaml

from asffbench.config.compose import compose_config
from asffbench.data.loaders import build_train_loader
from asffbench.settings import train_data_settings


def smoke_overrides() -> list[str]:
    spec = yaml.safe_load(resources.files("asffbench.sweeps").joinpath("smoke.yaml").read_text())
    return [f"{key}={value}" for key, value in spec["overrides"].items()]


def measure(overrides: list[str], epochs: int) -> dict:
    cfg = compose_config(overrides)
    loader = build_train_loader(train_data_settings(cfg))
    seen, elapsed, batches = 0, 0.0, 0
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        iterator = iter(loader)
        next(iterator)  # worker start-up / first decode: not throughput
        started = time.perf_counter()
        for images, _, _ in iterator:
            seen += images.shape[0]
            batches += 1
        elapsed += time.perf_counter() - started
    return {
        "images_per_s": seen / elapsed if elapsed else float("nan"),
        "images": seen,
        "batches": batches,
        "seconds": elapsed,
        "workers": int(cfg.data.workers),
        "img_size": int(cfg.img_size),
        "batch_size": int(cfg.train.batch_size),
        "multiscale": bool(cfg.tricks.multiscale),
        "mixup": bool(cfg.tricks.mixup),
        "dataset_images": len(loader.dataset),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="data.workers (default: the smoke sweep's)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--img-size", type=int, default=None, help="img_size (default: the smoke sweep's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    args = parser.parse_args()

    overrides = smoke_overrides() + ["train.max_iters_per_epoch=null"]
    if args.workers is not None:
        overrides.append(f"data.workers={args.workers}")
    if args.img_size is not None:
        overrides.append(f"img_size={args.img_size}")
    result = measure(overrides + list(args.overrides), args.epochs)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"train loader: {result['images_per_s']:.1f} images/s ({result['images']} images in "
        f"{result['seconds']:.2f} s; {result['workers']} workers, {result['img_size']} px, batch "
        f"{result['batch_size']}, multiscale {result['multiscale']}, mixup {result['mixup']}, "
        f"{result['cpu_count']} CPUs)"
    )


if __name__ == "__main__":
    main()
