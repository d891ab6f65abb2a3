"""Training throughput (images/s) of the full-size ASFF model and of the tiny model, and the share
of a full-size training step spent in the loss (target: at most 10%).

One training step = forward, loss, backward, optimizer step, timed with device synchronisation
after each part, on real batches of the synthetic tiny COCO at a fixed size (no multi-scale).
The loader's own throughput (the same batches produced from disk and augmented) is printed
beside it: the data pipeline should deliver at least twice what the smallest model consumes.

    python benchmarks/bench_train.py [--img-size 320] [--batch 4] [--iters 3] [--device auto]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.data.loaders import build_train_loader
from asffbench.device import device_name, resolve_device, synchronize
from asffbench.engine.optim import build_optimizer
from asffbench.engine.train import build_criterion, seed_everything
from asffbench.engine.trainer import as_float

MODELS = {
    "asff (darknet53)": ["model=darknet53", "fusion=asff"],
    "asff (tiny)": ["model=tiny", "fusion=asff"],
}


def timed_steps(overrides: list[str], device: torch.device, warmup: int, iters: int) -> dict:
    cfg = compose_config(overrides)
    seed_everything(0)
    model = build_model(cfg).to(device).train()
    criterion = build_criterion(cfg).to(device)
    optimizer = build_optimizer(model, lr=1e-4, momentum=0.9, weight_decay=5e-4)
    loader = build_train_loader(cfg)
    loader.set_epoch(0)
    batches = []
    for images, targets, _ in loader:
        batches.append((images.to(device), targets.to(device)))
        if len(batches) == warmup + iters:
            break
    amp = device.type == "cuda" and bool(cfg.train.amp)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    parts = {"forward": [], "loss": [], "backward+step": []}
    for index, (images, targets) in enumerate(batches):
        synchronize(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            output = model(images)
        synchronize(device)
        t1 = time.perf_counter()
        loss, _ = criterion([as_float(level) for level in output.levels], targets)  # as Trainer does
        synchronize(device)
        t2 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        synchronize(device)
        t3 = time.perf_counter()
        if index >= warmup:
            parts["forward"].append(t1 - t0)
            parts["loss"].append(t2 - t1)
            parts["backward+step"].append(t3 - t2)
    step = [sum(v) for v in zip(*parts.values())]
    batch = batches[0][0].shape[0]
    return {
        "images_per_s": batch / statistics.mean(step),
        "step_s": statistics.mean(step),
        "loss_fraction": statistics.mean(parts["loss"]) / statistics.mean(step),
        "parts_s": {k: statistics.mean(v) for k, v in parts.items()},
        "amp": amp,
    }


def loader_throughput(overrides: list[str], batches: int) -> float:
    cfg = compose_config(overrides)
    loader = build_train_loader(cfg)
    loader.set_epoch(0)
    iterator = iter(loader)
    images, _, _ = next(iterator)  # worker start-up is not throughput
    seen, started = 0, time.perf_counter()
    for _ in range(batches):
        images, _, _ = next(iterator)
        seen += images.shape[0]
    return seen / (time.perf_counter() - started)


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
        f"img_size={args.img_size}", f"train.batch_size={args.batch}", "tricks.multiscale=false",
        "model.num_classes=80", f"data.workers={args.workers}", f"device={device.type}",
    ]
    print(f"device: {device_name(device)} ({device.type}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, {args.img_size} px, batch {args.batch}, "
          f"{args.warmup} warm-up + {args.iters} timed steps")
    for name, overrides in MODELS.items():
        result = timed_steps(common + overrides, device, args.warmup, args.iters)
        p = result["parts_s"]
        print(f"{name:<18} {result['images_per_s']:8.2f} img/s  step {result['step_s'] * 1000:8.1f} ms "
              f"(forward {p['forward'] * 1000:.1f}, loss {p['loss'] * 1000:.1f}, "
              f"backward+step {p['backward+step'] * 1000:.1f})  loss share {100 * result['loss_fraction']:.1f}%"
              f"{'  amp' if result['amp'] else ''}")
    rate = loader_throughput(common + MODELS["asff (tiny)"], batches=max(4, args.iters * 2))
    print(f"{'loader':<18} {rate:8.2f} img/s  ({args.workers} workers, augmentation on)")


if __name__ == "__main__":
    main()
