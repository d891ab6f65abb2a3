"""The anchor-free family's loss (assigner, BCE, CIoU, DFL) against ultralytics' v8DetectionLoss
(the oracle, a dev extra) on the same predictions and targets: forward and backward per batch.

A YOLOv8 (`model=yolov8`, `recipe=ultralytics`) runs one training forward on a real batch of the
synthetic set; both losses then take detached copies of its level maps, in alternating rounds
(asffbench's loss, then ultralytics', every round), so a shared machine's drift hits both alike.
Each round times --iters forward+backward pairs per side; the medians over rounds are printed.

    python benchmarks/bench_anchor_free_loss.py [--img-size 320] [--batch 16] [--scale n]
        [--classes 6] [--rounds 7] [--iters 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from asffbench.bench.rounds import alternating_rounds
from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.data.loaders import build_train_loader
from asffbench.engine.anchor_free_loss import AnchorFreeLoss
from asffbench.models.outputs import AnchorFreeLevel
from asffbench.settings import train_data_settings


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--img-size", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--scale", default="n")
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--images", type=int, default=86, help="synthetic training images")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=5, help="forward+backward pairs per side and round")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


def real_batch(args: argparse.Namespace) -> tuple[list[AnchorFreeLevel], Tensor]:
    """One training forward of the model on the loader's first batch: its level maps and targets."""
    cfg = compose_config(["data=synth", f"data.synth.images={args.images}", f"model.num_classes={args.classes}",
                          "model=yolov8", f"model.scale={args.scale}", "recipe=ultralytics", "tricks=none",
                          f"img_size={args.img_size}", f"train.batch_size={args.batch}", "data.workers=0"])
    images, targets, _ = next(iter(build_train_loader(train_data_settings(cfg))))
    torch.manual_seed(0)
    with torch.no_grad():
        levels = build_model(cfg).train()(images).levels
    return list(levels), targets


def detached(levels: Sequence[AnchorFreeLevel]) -> list[AnchorFreeLevel]:
    return [AnchorFreeLevel(level.pred.detach().clone().requires_grad_(True), level.stride, level.reg_max)
            for level in levels]


def timed_pair(loss_of: Callable[[list[AnchorFreeLevel]], Tensor], levels: Sequence[AnchorFreeLevel],
               iters: int) -> tuple[float, float]:
    """Mean forward and backward ms over `iters` calls on fresh detached copies."""
    forward = backward = 0.0
    for _ in range(iters):
        inputs = detached(levels)
        start = time.perf_counter()
        total = loss_of(inputs)
        middle = time.perf_counter()
        total.backward()
        forward += middle - start
        backward += time.perf_counter() - middle
    return forward * 1e3 / iters, backward * 1e3 / iters


def ultralytics_loss(num_classes: int, reg_max: int, strides: Sequence[int]) -> Callable[[list], Callable]:
    """ultralytics' v8DetectionLoss on asffbench's levels and (M, 7) pixel targets."""
    from ultralytics.utils.loss import v8DetectionLoss  # the oracle: a dev extra, never the package's

    head = SimpleNamespace(stride=torch.tensor(sorted(float(s) for s in strides)), nc=num_classes, reg_max=reg_max)
    holder = nn.Module()
    holder.anchor = nn.Parameter(torch.zeros(1))
    holder.model = [head]
    holder.args = SimpleNamespace(box=7.5, cls=0.5, dfl=1.5)
    oracle = v8DetectionLoss(holder)

    def bind(targets: Tensor, img_size: int) -> Callable[[list[AnchorFreeLevel]], Tensor]:
        boxes = targets[:, 2:6] / img_size
        xywh = torch.cat(((boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]), dim=1)
        batch = {"batch_idx": targets[:, 0], "cls": targets[:, 1:2], "bboxes": xywh}

        def run(levels: list[AnchorFreeLevel]) -> Tensor:
            ordered = sorted(levels, key=lambda level: level.stride)  # ultralytics: stride 8 first
            size = ordered[0].pred.shape[0]
            flat = torch.cat([level.pred.reshape(size, level.pred.shape[1], -1) for level in ordered], dim=2)
            preds = {"boxes": flat[:, : 4 * reg_max], "scores": flat[:, 4 * reg_max:],
                     "feats": [level.pred for level in ordered]}
            total, _ = oracle(preds, batch)
            return total.sum()
        return run
    return bind


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    levels, targets = real_batch(args)
    reg_max, strides = levels[0].reg_max, [level.stride for level in levels]
    ours = AnchorFreeLoss(args.classes)
    sides = {"asffbench": lambda inputs: ours(inputs, targets)[0]}
    try:
        sides["ultralytics"] = ultralytics_loss(args.classes, reg_max, strides)(targets, args.img_size)
    except ImportError:
        print("ultralytics is not installed (the dev extra): timing asffbench's loss alone")
    for side in sides.values():
        timed_pair(side, levels, 1)  # warm-up: allocator, first-call paths
    samples = alternating_rounds({name: (lambda side=side: timed_pair(side, levels, args.iters))
                                  for name, side in sides.items()}, args.rounds)
    print(f"loss per batch: {args.batch} images at {args.img_size} px, yolov8{args.scale}, {args.classes} classes, "
          f"{targets.shape[0]} boxes, {args.threads} thread(s); medians of {args.rounds} rounds")
    print(f"{'':<12} {'forward ms':>11} {'backward ms':>12} {'total ms':>9}")
    medians = {}
    for name, values in samples.items():
        forward, backward = (statistics.median(v[i] for v in values) for i in (0, 1))
        total = statistics.median(f + b for f, b in values)
        medians[name] = (forward, backward, total)
        print(f"{name:<12} {forward:>11.1f} {backward:>12.1f} {total:>9.1f}")
    if "ultralytics" in medians:
        ratios = [a / b for a, b in zip(medians["asffbench"], medians["ultralytics"])]
        print("asffbench / ultralytics: forward {:.2f}, backward {:.2f}, total {:.2f}".format(*ratios))


if __name__ == "__main__":
    main()
