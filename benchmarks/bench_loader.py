"""Train loader throughput (images/s) on the smoke configuration (synthetic COCO, tiny model).

The overrides come from the smoke sweep (sweeps/smoke.yaml) so the figure matches what the smoke
runs consume; augmentation, mixup and multi-scale are as configured there, the per-epoch cap is
lifted, and the first batch (worker start-up) is not timed.

    python benchmarks/bench_loader.py [--workers 0] [--epochs 3] [--img-size 96] [--json]

`--mosaic-buffers 0,8` times one loader per `recipe.mosaic_buffer` value in this process, in
rounds that alternate their order, and prints each one's ms/image and its speed-up over the first.
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


def timed_epochs(loader, epochs: range) -> tuple[int, float, int]:
    """(images, seconds, batches) over `epochs`, each epoch's first batch untimed."""
    seen, elapsed, batches = 0, 0.0, 0
    for epoch in epochs:
        loader.set_epoch(epoch)
        iterator = iter(loader)
        next(iterator)  # worker start-up / first decode: not throughput
        started = time.perf_counter()
        for images, _, _ in iterator:
            seen += images.shape[0]
            batches += 1
        elapsed += time.perf_counter() - started
    return seen, elapsed, batches


def measure(overrides: list[str], epochs: int) -> dict:
    cfg = compose_config(overrides)
    loader = build_train_loader(train_data_settings(cfg))
    seen, elapsed, batches = timed_epochs(loader, range(epochs))
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


def compare_buffers(overrides: list[str], buffers: list[int], epochs: int, rounds: int) -> dict[int, float]:
    """ms/image of the train loader for each `recipe.mosaic_buffer`, the loaders built first and
    timed in rounds of `epochs` epochs (the same epochs for each), the order reversed every round."""
    loaders = {k: build_train_loader(train_data_settings(compose_config([*overrides, f"recipe.mosaic_buffer={k}"])))
               for k in buffers}
    totals = {k: [0, 0.0] for k in buffers}
    for round_ in range(rounds):
        for k in (buffers if round_ % 2 == 0 else buffers[::-1]):
            seen, elapsed, _ = timed_epochs(loaders[k], range(round_ * epochs, (round_ + 1) * epochs))
            totals[k][0] += seen
            totals[k][1] += elapsed
    return {k: 1000 * elapsed / seen for k, (seen, elapsed) in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="data.workers (default: the smoke sweep's)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--img-size", type=int, default=None, help="img_size (default: the smoke sweep's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--mosaic-buffers", type=lambda text: [int(k) for k in text.split(",")], default=None,
                        metavar="K,K", help="compare these recipe.mosaic_buffer values (recipe=ultralytics) in one process")
    parser.add_argument("--rounds", type=int, default=2, help="with --mosaic-buffers: rounds of --epochs epochs")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides")
    args = parser.parse_args()

    overrides = smoke_overrides() + ["train.max_iters_per_epoch=null"]
    if args.workers is not None:
        overrides.append(f"data.workers={args.workers}")
    if args.img_size is not None:
        overrides.append(f"img_size={args.img_size}")
    if args.mosaic_buffers:
        report_buffers(compare_buffers(overrides + list(args.overrides), args.mosaic_buffers, args.epochs,
                                       args.rounds), args.json)
        return
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


def report_buffers(ms_per_image: dict[int, float], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"ms_per_image": ms_per_image}))
        return
    first = next(iter(ms_per_image))
    for k, ms in ms_per_image.items():
        print(f"recipe.mosaic_buffer={k}: {ms:.2f} ms/image ({ms_per_image[first] / ms:.2f}x buffer {first}'s speed)")


if __name__ == "__main__":
    main()
