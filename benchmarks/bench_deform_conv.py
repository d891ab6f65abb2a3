"""What guided anchoring's deformable convolution costs, with torchvision's kernel and the sampled one.

1. Training step (the trainer's own step: forward + loss + backward + SGD step with its LR
   schedule, EMA off, a small LR; random images and boxes, 80 classes, ASFF) with guided anchoring off, and on with each implementation (`model.deform_conv`): the
   tiny model at 160 px, batch 8, and the full-size Darknet-53 model at 320 px, batch 2.
2. The deformable convolution alone (forward + backward, batch 1, 4 deformable groups) at the
   full-size model's three level shapes at 608 px, sampled vs torchvision.

The variants are timed in alternating rounds (asffbench.bench.rounds; median of rounds), so that
the drifts of a shared machine hit all of them alike; quote the ratios, measured within one run.

    python benchmarks/bench_deform_conv.py [--rounds 3] [--parts step,conv] [--threads N] [--device auto]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Callable

import torch

from asffbench.bench.rounds import alternating_rounds, medians
from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.device import device_name, resolve_device, synchronize
from asffbench.engine.distributed import DistEnv
from asffbench.engine.train_builders import build_trainer, seed_everything
from asffbench.settings import trainer_settings
from asffbench.models.layers import DEFORM_CONVS


@dataclass(frozen=True)
class StepSetting:
    name: str
    overrides: tuple[str, ...]
    img_size: int
    batch: int
    iters: int  # timed steps per round


STEP_SETTINGS = (
    StepSetting("tiny", ("model=tiny",), 160, 8, 3),
    StepSetting("darknet53", ("model=darknet53",), 320, 2, 1),
)
# Guided anchoring off is the baseline each "on" variant is divided by.
STEP_VARIANTS = {
    "off": ("tricks.guided_anchoring=false",),
    "torchvision": ("tricks.guided_anchoring=true", "model.deform_conv=torchvision"),
    "sampled": ("tricks.guided_anchoring=true", "model.deform_conv=sampled"),
}
# (channels, side) of the full-size model's guided-anchoring levels at 608 px: strides 32, 16, 8.
CONV_SHAPES = ((1024, 19), (512, 38), (256, 76))
OFFSET_GROUPS = 4
# The trainer's step without EMA, at a small LR (no warm-up): random batches keep the loss finite.
STEP_TRAINING = ("train.ema=false", "train.lr=1.28e-4", "train.warmup_epochs=0")


def interleaved_medians(timers: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    return medians(alternating_rounds(timers, rounds))


def random_targets(batch: int, img_size: int, boxes_per_image: int, generator: torch.Generator) -> torch.Tensor:
    """(M, 7) targets [image, label, x1, y1, x2, y2, weight] of random boxes inside the image."""
    count = batch * boxes_per_image
    centre = torch.rand(count, 2, generator=generator) * img_size
    size = (0.05 + 0.4 * torch.rand(count, 2, generator=generator)) * img_size
    corners = torch.cat([centre - size / 2, centre + size / 2], dim=1).clamp(0, img_size - 1)
    image = torch.arange(batch).repeat_interleave(boxes_per_image).float()
    label = torch.randint(0, 80, (count,), generator=generator).float()
    return torch.cat([image[:, None], label[:, None], corners, torch.ones(count, 1)], dim=1)


def step_timer(setting: StepSetting, variant: tuple[str, ...], device: torch.device) -> Callable[[], float]:
    """A function timing `setting.iters` training steps on one fixed random batch (mean seconds)."""
    overrides = [*setting.overrides, *variant, "fusion=asff", "model.num_classes=80", f"img_size={setting.img_size}",
                 f"train.batch_size={setting.batch}", *STEP_TRAINING]
    cfg = compose_config(overrides + [f"device={device.type}"])
    seed_everything(0)
    model = build_model(cfg).to(device).train()
    trainer = build_trainer(trainer_settings(cfg), model, device, DistEnv(), iters_per_epoch=1)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(setting.batch, 3, setting.img_size, setting.img_size, generator=generator).to(device)
    targets = random_targets(setting.batch, setting.img_size, 4, generator).to(device)

    def step() -> None:
        trainer.train_step(images, targets, epoch=0)

    step()  # warm-up: allocations, first-call dispatch

    def timed() -> float:
        synchronize(device)
        started = time.perf_counter()
        for _ in range(setting.iters):
            step()
        synchronize(device)
        return (time.perf_counter() - started) / setting.iters

    return timed


def conv_timer(implementation: str, channels: int, side: int, device: torch.device) -> Callable[[], float]:
    """A function timing one forward + backward of the deformable conv at (1, channels, side, side)."""
    torch.manual_seed(0)
    conv = DEFORM_CONVS.get(implementation)(channels, channels, 3, padding=1, bias=True).to(device)
    x = torch.randn(1, channels, side, side, device=device, requires_grad=True)
    offset = (2 * torch.randn(1, 2 * 9 * OFFSET_GROUPS, side, side, device=device)).requires_grad_()

    def timed() -> float:
        synchronize(device)
        started = time.perf_counter()
        conv(x, offset).sum().backward()
        synchronize(device)
        return time.perf_counter() - started

    timed()  # warm-up
    return timed


def report_steps(device: torch.device, rounds: int) -> None:
    print("training step (forward + loss + backward + SGD), ASFF, 80 classes, random batch; median of rounds")
    print(f"{'model':<10} {'px':>4} {'batch':>5} {'GA off ms':>10} {'torchvision ms':>15} {'sampled ms':>11} "
          f"{'on/off torchvision':>19} {'on/off sampled':>15}")
    for setting in STEP_SETTINGS:
        timers = {name: step_timer(setting, variant, device) for name, variant in STEP_VARIANTS.items()}
        medians = interleaved_medians(timers, rounds)
        off = medians["off"]
        print(f"{setting.name:<10} {setting.img_size:>4} {setting.batch:>5} {off * 1e3:>10.0f} "
              f"{medians['torchvision'] * 1e3:>15.0f} {medians['sampled'] * 1e3:>11.0f} "
              f"{medians['torchvision'] / off:>19.2f} {medians['sampled'] / off:>15.2f}")


def report_convs(device: torch.device, rounds: int) -> None:
    print(f"deformable conv 3x3 alone, forward + backward, batch 1, {OFFSET_GROUPS} deformable groups, bias; "
          "median of rounds")
    print(f"{'shape':<14} {'torchvision ms':>15} {'sampled ms':>11} {'torchvision/sampled':>20}")
    for channels, side in CONV_SHAPES:
        timers = {name: conv_timer(name, channels, side, device) for name in ("torchvision", "sampled")}
        medians = interleaved_medians(timers, rounds)
        print(f"{f'{channels}x{side}x{side}':<14} {medians['torchvision'] * 1e3:>15.1f} "
              f"{medians['sampled'] * 1e3:>11.1f} {medians['torchvision'] / medians['sampled']:>20.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parts", default="step,conv", help="comma list of: step, conv")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = resolve_device(args.device)
    print(f"device: {device_name(device)} ({device.type}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, {args.rounds} alternating rounds")
    parts = args.parts.split(",")
    if "step" in parts:
        report_steps(device, args.rounds)
    if "conv" in parts:
        report_convs(device, args.rounds)


if __name__ == "__main__":
    main()
