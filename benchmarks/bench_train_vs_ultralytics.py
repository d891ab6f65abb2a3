"""Training against ultralytics (the oracle, a dev extra), side by side in one process: speed
(images/s of whole training epochs: loader, augmentation, step) and, with --parity, learning (loss curves, AP).

Both train the same architecture (asffbench's `model=yolov8 model.scale=n`, equal to ultralytics'
YOLOv8n in parameters and outputs) under the same recipe (`recipe=ultralytics tricks=none`: mosaic
with its affine, HSV, flip, SGD Nesterov with the nominal batch 64 by accumulation, EMA, gradient
clipping) on the synthetic tiny COCO, exported once into ultralytics' YOLO layout (the same JPEGs),
at the same input size, batch, worker count, torch thread count and device.

Speed: rounds of one run per side, the order swapped every round (A B, B A, ...) because a shared
machine's load drifts; each run trains --epochs epochs, the first a warm-up (allocator, caches),
the others timed from epoch start to epoch end. Warm-up (`train.warmup_epochs`) and close_mosaic
are 0 on both sides so both do the same work per batch: mosaic on every image, one optimizer step
per 64 images. The split per phase: asffbench's trainer is told where each step phase ends
(`Trainer.train_epoch(phases=...)`), the loader wait is stamped around each batch fetch;
ultralytics' from its batch callbacks and forward hooks on its model (forward ends when its head
returns, assigner+loss when the model's loss call returns). ultralytics runs its loaders in the
main process on CPU (it sets workers to 0 there, whatever --workers says), so the default
--workers is 0 for both. A run shorter than the nominal batch's accumulation (fewer than 4
batches of 16) differs by one optimizer step: asffbench caps the accumulation at the run's
batches, ultralytics does not (one SGD and EMA update, small beside the batches' steps).

Parity (--parity): per seed of --seeds, one run per side of --epochs epochs of the full recipe
(warm-up and close_mosaic included), then both final EMA models scored by asffbench's evaluator (pycocotools AP on
the val split): ultralytics' last.pt is read into asffbench's YOLOv8 (docs/anchor-free.md), so
post-processing and metric are the same; ultralytics' own validator's figures are printed beside.
Before AP, both loss curves epoch by epoch: the epoch means of the box, cls and dfl parts (each
times its gain: asffbench's step lines, ultralytics' `tloss`).

    python benchmarks/bench_train_vs_ultralytics.py [--sizes 320,640] [--batch 16] [--epochs 2]
        [--rounds 3] [--images 64] [--workers 0] [--threads N] [--device cpu] [--override KEY=VALUE ...]
    python benchmarks/bench_train_vs_ultralytics.py --parity --sizes 160 --epochs 20 --images 60 --batch 8 \
        --nominal-batch 8 --threads 1 --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch

from asffbench.build import build_model
from asffbench.config.compose import compose_config
from asffbench.data.loaders import build_train_loader
from asffbench.data.sources import load_source
from asffbench.device import device_name, resolve_device, synchronize
from asffbench.engine.distributed import DistEnv
from asffbench.engine.train_builders import build_trainer, seed_everything
from asffbench.engine.trainer import StepPhases
from asffbench.runs.evaluate import evaluate
from asffbench.runs.training import train
from asffbench.settings import data_source, train_data_settings, trainer_settings

# The split reported, in step order; each side's own phases are summed into these.
PHASES = ("loader", "forward", "assigner+loss", "backward+optimizer")
OURS_PHASES = {"forward": "forward", "loss": "assigner+loss", "backward": "backward+optimizer",
               "optimizer": "backward+optimizer"}
SIDES = ("asffbench", "ultralytics")
NUM_CLASSES = 6  # the synthetic set's categories
INTEGRATIONS = ("clearml", "comet", "dvc", "hub", "mlflow", "neptune", "raytune", "tensorboard", "wandb")


@dataclass
class Epoch:
    seconds: float
    images: int
    phases: dict[str, float] = field(default_factory=dict)  # PHASES -> seconds


class PhaseClock(StepPhases):
    """Seconds per phase over an epoch: told when a step starts and each of its phases ends
    (asffbench's trainer does), or stamped by hand (`mark`); synchronizes the device first."""

    def __init__(self, device: torch.device, names: dict[str, str]) -> None:
        self.device = device
        self.names = names
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.last = time.perf_counter()

    def start(self) -> None:
        synchronize(self.device)
        self.last = time.perf_counter()

    def end(self, phase: str) -> None:
        synchronize(self.device)
        now = time.perf_counter()
        self.seconds[self.names[phase]] += now - self.last
        self.last = now

    mark = end


class TimedLoader:
    """The train loader, its wait for each batch added to `clock`'s loader phase."""

    def __init__(self, loader, clock: PhaseClock) -> None:
        self.loader, self.clock = loader, clock

    def set_epoch(self, epoch: int) -> None:
        self.loader.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        batches = iter(self.loader)
        while True:
            started = time.perf_counter()
            try:
                batch = next(batches)
            except StopIteration:
                return
            self.clock.seconds["loader"] += time.perf_counter() - started
            yield batch


# --- the data, once for both ----------------------------------------------------------------------
def export_yolo_layout(overrides: list[str], root: Path) -> Path:
    """The synthetic set's train and val splits in ultralytics' YOLO layout (images/ linked to the
    same JPEGs, labels/ of normalised `class cx cy w h` rows) and its data yaml; returns its path."""
    source = data_source(compose_config(overrides))
    names: list[str] = []
    for split in ("train", "val"):
        dataset = load_source(source, split)
        names = dataset.class_names
        for folder in ("images", "labels"):
            (root / folder / split).mkdir(parents=True, exist_ok=True)
        for index in range(len(dataset)):
            image_path = dataset.image_path(index)
            (root / "images" / split / image_path.name).symlink_to(image_path.resolve())
            width, height = dataset.load_image(index).size
            boxes, labels = dataset.targets(index)
            rows = [f"{int(label)} {(x1 + x2) / 2 / width:.6f} {(y1 + y2) / 2 / height:.6f} "
                    f"{(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"
                    for (x1, y1, x2, y2), label in zip(boxes, labels)]
            (root / "labels" / split / f"{image_path.stem}.txt").write_text("\n".join(rows))
    data_yaml = root / "data.yaml"  # JSON is YAML
    data_yaml.write_text(json.dumps({"path": str(root), "train": "images/train", "val": "images/val",
                                     "names": dict(enumerate(names))}))
    return data_yaml


# --- asffbench ------------------------------------------------------------------------------------
def asffbench_overrides(args, data: list[str], size: int, speed: bool, seed: int = 0) -> list[str]:
    timing = ["train.warmup_epochs=0", "recipe.close_mosaic=0"] if speed else []
    return [*data, f"recipe.nominal_batch={args.nominal_batch}", "model=yolov8", "model.scale=n", "recipe=ultralytics", "tricks=none", f"seed={seed}",
            f"img_size={size}", f"train.batch_size={args.batch}", f"train.epochs={args.epochs}",
            f"data.workers={args.workers}",
            # Speed: no step lines; parity: every step's loss parts, for the loss curves.
            f"train.log_every={100000 if speed else 1}", *timing, *args.override]


def asffbench_epochs(overrides: list[str], device: torch.device, threads: int) -> list[Epoch]:
    """asffbench's trainer as `train` builds it (model, loader, optimizer, schedule, EMA), its
    epochs run with the phase clock; one Epoch per epoch."""
    cfg = compose_config(overrides)
    torch.set_num_threads(threads)
    seed_everything(int(cfg.seed))
    model = build_model(cfg).to(device)
    loader = build_train_loader(train_data_settings(cfg))
    trainer = build_trainer(trainer_settings(cfg), model, device, DistEnv(), iters_per_epoch=len(loader))
    epochs = []
    for epoch in range(int(cfg.train.epochs)):
        clock = PhaseClock(device, OURS_PHASES)
        summary = trainer.train_epoch(TimedLoader(loader, clock), epoch, clock)
        images = round(summary["images_per_s"] * summary["seconds"])
        epochs.append(Epoch(summary["seconds"], images, clock.seconds))
    return epochs


# --- ultralytics ----------------------------------------------------------------------------------
def ultralytics_arguments(args, data_yaml: Path, size: int, device: torch.device, out: Path, speed: bool,
                          seed: int = 0) -> dict:
    """Its YOLOv8 recipe (SGD named: its `auto` optimizer picks AdamW for short runs), validation,
    plots and caching off; its `deterministic` off, as asffbench's training is."""
    timing = {"warmup_epochs": 0, "close_mosaic": 0} if speed else {"close_mosaic": 10}
    return dict(data=str(data_yaml), epochs=args.epochs, imgsz=size, batch=args.batch, device=device.type,
                workers=args.workers, optimizer="SGD", lr0=0.01, momentum=0.937, nbs=args.nominal_batch,
                val=False, plots=False,
                amp=device.type == "cuda", project=str(out), name="ultralytics", exist_ok=True, verbose=False,
                seed=seed, deterministic=False, cache=False, **timing)


@dataclass
class UltralyticsRun:
    epochs: list[Epoch]
    metrics: dict  # its validator's, of the final model (it validates the last epoch even with val=False)
    losses: list[list[float]]  # per epoch, its loss items' means (box, cls, dfl, each times its gain)


def ultralytics_epochs(arguments: dict, device: torch.device, threads: int) -> UltralyticsRun:
    """ultralytics' trainer on YOLOv8n; one Epoch per epoch from its callbacks, and its metrics."""
    from ultralytics import YOLO  # the oracle, a dev extra: imported where it is used
    from ultralytics.utils import SETTINGS

    # Its logger integrations (MLflow, TensorBoard, ...) off: they are no part of training; the
    # settings file they are switched off in is this run's own (YOLO_CONFIG_DIR, set in main).
    SETTINGS.update({key: False for key in INTEGRATIONS if key in SETTINGS})
    model = YOLO("yolov8n.yaml")
    epochs: list[Epoch] = []
    losses: list[list[float]] = []
    clock = PhaseClock(device, {name: name for name in PHASES})
    started = [0.0]

    def on_train_start(trainer) -> None:
        torch.set_num_threads(threads)  # its device selection set its own count
        trainer.model.model[-1].register_forward_hook(lambda *_: clock.mark("forward"))
        trainer.model.register_forward_hook(lambda *_: clock.mark("assigner+loss"))

    def on_epoch_start(trainer) -> None:
        clock.seconds = dict.fromkeys(PHASES, 0.0)
        clock.start()
        started[0] = clock.last

    def on_epoch_end(trainer) -> None:
        synchronize(device)
        images = len(trainer.train_loader.dataset)
        epochs.append(Epoch(time.perf_counter() - started[0], images, dict(clock.seconds)))
        losses.append([float(trainer.tloss[f"{name}_loss"]) for name in LOSS_PARTS])  # its running means

    model.add_callback("on_train_start", on_train_start)
    model.add_callback("on_train_epoch_start", on_epoch_start)
    model.add_callback("on_train_batch_start", lambda trainer: clock.mark("loader"))
    model.add_callback("on_train_batch_end", lambda trainer: clock.mark("backward+optimizer"))
    model.add_callback("on_train_epoch_end", on_epoch_end)
    model.train(**arguments)
    return UltralyticsRun(epochs, dict(model.trainer.metrics or {}), losses)


# --- speed ----------------------------------------------------------------------------------------
def speed_rounds(sides: dict[str, Callable[[], list[Epoch]]], rounds: int) -> dict[str, list[list[Epoch]]]:
    """Each side's timed epochs per round (its first epoch dropped), the order swapped every round."""
    timed: dict[str, list[list[Epoch]]] = {name: [] for name in sides}
    for index in range(rounds):
        order = list(sides) if index % 2 == 0 else list(reversed(sides))
        for name in order:
            timed[name].append(sides[name]()[1:])
    return timed


def images_per_s(epochs: list[Epoch]) -> float:
    return sum(e.images for e in epochs) / sum(e.seconds for e in epochs)


def phase_split(epochs: list[Epoch]) -> str:
    """Milliseconds per image in each phase, and the epoch time no phase covers."""
    images = sum(e.images for e in epochs)
    total = {phase: sum(e.phases.get(phase, 0.0) for e in epochs) for phase in PHASES}
    other = sum(e.seconds for e in epochs) - sum(total.values())
    return "  ".join(f"{phase} {1e3 * seconds / images:.1f}" for phase, seconds in [*total.items(), ("other", other)])


def report_speed(size: int, timed: dict[str, list[list[Epoch]]]) -> float:
    """Print the rounds' ratios and each side's rate and split; returns the median ratio."""
    ours, theirs = timed["asffbench"], timed["ultralytics"]
    ratios = [images_per_s(a) / images_per_s(b) for a, b in zip(ours, theirs)]
    print(f"{size} px: rounds' ratios (asffbench / ultralytics images/s): " + ", ".join(f"{r:.2f}" for r in ratios))
    for name in SIDES:
        epochs = [e for run in timed[name] for e in run]
        print(f"  {name:<12} {images_per_s(epochs):7.2f} img/s  ms/image: {phase_split(epochs)}")
    print(f"  ratio {statistics.median(ratios):.2f} (median of {len(ratios)} rounds)")
    return statistics.median(ratios)


def run_speed(args, device: torch.device, data: list[str], data_yaml: Path, root: Path) -> None:
    ratios = {}
    for size in args.sizes:
        overrides = asffbench_overrides(args, data, size, speed=True)
        arguments = ultralytics_arguments(args, data_yaml, size, device, root / f"speed{size}", speed=True)
        sides = {"asffbench": lambda: asffbench_epochs(overrides, device, args.threads),
                 "ultralytics": lambda: ultralytics_epochs(arguments, device, args.threads).epochs}
        ratios[size] = report_speed(size, speed_rounds(sides, args.rounds))
    print("summary: asffbench / ultralytics images/s " + ", ".join(f"{size} px {r:.2f}x" for size, r in ratios.items()))


# --- learning parity ------------------------------------------------------------------------------
LOSS_PARTS = ("box", "cls", "dfl")


def asffbench_losses(run_dir: Path) -> list[list[float]]:
    """Per epoch, the mean of the step lines' loss parts (box, cls, dfl, each times its gain: the
    scale of ultralytics' loss items) in the run's train_log.jsonl."""
    by_epoch: dict[int, list[list[float]]] = {}
    for line in (run_dir / "train_log.jsonl").read_text().splitlines():
        step = json.loads(line)
        if "loss_parts" in step:
            by_epoch.setdefault(int(step["epoch"]), []).append([step["loss_parts"][name] for name in LOSS_PARTS])
    return [[statistics.fmean(column) for column in zip(*by_epoch[epoch])] for epoch in sorted(by_epoch)]


def report_loss_curves(ours: list[list[float]], theirs: list[list[float]]) -> None:
    """Both sides' loss parts epoch by epoch, and the mean relative gap of each over the second half."""
    print("  loss curves, epoch: asffbench box / cls / dfl | ultralytics box / cls / dfl")
    for epoch, (a, b) in enumerate(zip(ours, theirs)):
        print(f"    {epoch + 1:3d}: " + " / ".join(f"{v:.3f}" for v in a) + "  |  " + " / ".join(f"{v:.3f}" for v in b))
    half = list(zip(ours, theirs))[len(ours) // 2:]
    gaps = [statistics.fmean(a[i] / b[i] - 1 for a, b in half if b[i] > 0) for i in range(len(LOSS_PARTS))]
    print("  second half, asffbench / ultralytics - 1: " + ", ".join(
        f"{name} {100 * gap:+.1f}%" for name, gap in zip(LOSS_PARTS, gaps)))

@dataclass
class ParityRun:
    ours: dict  # asffbench's evaluator's metrics of asffbench's final model
    theirs: dict  # the same evaluator's of ultralytics' final model
    theirs_own: dict  # ultralytics' validator's metrics of its model
    ours_losses: list[list[float]]
    theirs_losses: list[list[float]]


def parity_run(args, device: torch.device, data: list[str], data_yaml: Path, root: Path, seed: int) -> ParityRun:
    """Both sides trained once at `seed` with the full recipe; both final EMA models scored by
    asffbench's evaluator, ultralytics' also by its own validator (a cross-check of the reading)."""
    size = args.sizes[0]
    overrides = asffbench_overrides(args, data, size, speed=False, seed=seed)
    torch.set_num_threads(args.threads)
    ours_dir, theirs_dir = root / f"parity-asffbench-{seed}", root / f"parity-ultralytics-{seed}"
    cfg = compose_config([*overrides, f"run_dir={ours_dir}"])
    ours = evaluate(cfg, ours_dir, model=train(cfg, ours_dir).model)
    arguments = ultralytics_arguments(args, data_yaml, size, device, root / f"parity-{seed}", speed=False, seed=seed)
    run = ultralytics_epochs(arguments, device, args.threads)
    last = Path(arguments["project"]) / arguments["name"] / "weights" / "last.pt"
    theirs = evaluate(compose_config([*overrides, f"model.weights={last}", f"run_dir={theirs_dir}"]), theirs_dir)
    own = {"AP": run.metrics.get("metrics/mAP50-95(B)", float("nan")), "AP50": run.metrics.get("metrics/mAP50(B)", float("nan"))}
    return ParityRun(ours, theirs, own, asffbench_losses(ours_dir), run.losses)


def run_parity(args, device: torch.device, data: list[str], data_yaml: Path, root: Path) -> None:
    """One parity run per seed, each printed with its loss curves, then the AP50 gap's mean over
    the seeds against the tolerance (one seed's AP on a small val set moves by points)."""
    print(f"parity, {args.sizes[0]} px, {args.epochs} epochs, batch {args.batch}, nominal batch {args.nominal_batch}; "
          "AP in percent on the val split, asffbench's evaluator (pycocotools):")
    runs = []
    for seed in args.seeds:
        run = parity_run(args, device, data, data_yaml, root, seed)
        runs.append(run)
        print(f" seed {seed}")
        print(f"  asffbench    AP {100 * run.ours['AP']:5.2f}  AP50 {100 * run.ours['AP50']:5.2f}")
        print(f"  ultralytics  AP {100 * run.theirs['AP']:5.2f}  AP50 {100 * run.theirs['AP50']:5.2f}  "
              f"(its own validator: AP {100 * run.theirs_own['AP']:.2f}, AP50 {100 * run.theirs_own['AP50']:.2f})")
        report_loss_curves(run.ours_losses, run.theirs_losses)
    gaps = [100 * (run.ours["AP50"] - run.theirs["AP50"]) for run in runs]
    mean = {side: statistics.fmean(100 * getattr(run, side)["AP50"] for run in runs) for side in ("ours", "theirs")}
    spread = f" (sd {statistics.stdev(gaps):.2f} over {len(gaps)} seeds)" if len(gaps) > 1 else ""
    verdict = "within" if abs(statistics.fmean(gaps)) <= args.tolerance else "OUTSIDE"
    print(f"mean AP50: asffbench {mean['ours']:.2f}, ultralytics {mean['theirs']:.2f}; gap "
          f"{statistics.fmean(gaps):+.2f} points{spread}: {verdict} the tolerance of {args.tolerance:.1f} points")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="320,640", type=lambda text: [int(s) for s in text.split(",")],
                        help="input sizes, comma-separated (--parity uses the first)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2, help="per run; the first untimed (speed)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per side and size (speed)")
    parser.add_argument("--images", type=int, default=64, help="synthetic images, train + val (a quarter val)")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--nominal-batch", type=int, default=64,
                        help="images per optimizer step (recipe.nominal_batch, ultralytics' nbs)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--parity", action="store_true", help="train once per side and compare AP")
    parser.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for asffbench's side, after the recipe's (repeatable), "
                             "e.g. train.channels_last=false")
    parser.add_argument("--tolerance", type=float, default=5.0, help="AP50 points, the mean gap over --seeds (--parity)")
    parser.add_argument("--seeds", default="0", type=lambda text: [int(s) for s in text.split(",")],
                        help="training seeds, comma-separated (--parity: one run per side each)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    device = resolve_device(args.device)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    data = ["data=synth", f"data.synth.images={args.images}", f"model.num_classes={NUM_CLASSES}",
            f"device={device.type}"]
    print(f"device: {device_name(device)}, torch {torch.__version__}, {args.threads} threads, batch {args.batch}, "
          f"{args.epochs} epochs a run, workers {args.workers}, {args.images} synthetic images (train + val)")
    shown = compose_config(asffbench_overrides(args, data, args.sizes[0], speed=not args.parity))
    print(f"asffbench: train.channels_last={shown.train.channels_last}, "
          f"recipe.mosaic_buffer={shown.recipe.get('mosaic_buffer', 0)}, overrides {args.override or 'none'}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["YOLO_CONFIG_DIR"] = str(root / "ultralytics-settings")
        data_yaml = export_yolo_layout(data, root / "yolo")
        (run_parity if args.parity else run_speed)(args, device, data, data_yaml, root)


if __name__ == "__main__":
    main()
