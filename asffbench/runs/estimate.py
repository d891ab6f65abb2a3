"""Device-hours of a sweep before it runs: the arithmetic, from what each run does and a throughput.

For one run (one seed):

    device-hours = (images per epoch x epochs / training images per second per device
                    + evaluations x val images x inference seconds per image
                    + benchmarked images x inference seconds per image) / 3600

Training throughput is per device at the run's model, image size, batch and precision, so the
device-hours do not depend on how many devices share a job (ideal data-parallel scaling: n
devices take 1/n of the wall time each); a job's wall time is its device-hours over its devices.
Inference seconds per image are the training step's forward phase per image (with autograd
bookkeeping, so a little above a no-grad evaluation; NMS and image decoding are not in it).
Reading configs and measuring live in `runs/estimate_inputs.py`; this module is plain arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

SLURM_MARGIN = 1.25  # timeout_min = wall time x this (loader stalls, a slower node, checkpointing)
SLURM_MIN_MINUTES = 10  # and never below this: start-up, data indexing, the final evaluation's files


@dataclass(frozen=True)
class Throughput:
    """How fast one device trains (and infers) a setting, and where the figure comes from."""

    train_images_per_s: float  # per device, at the run's batch
    forward_s_per_image: float  # the step's forward phase over its batch
    source: str  # "measured on <device>" or the file it was read from


@dataclass(frozen=True)
class RunWork:
    """What one run does, from its config."""

    run: str
    train_images: int  # images per epoch, all devices together
    epochs: int
    val_images: int
    evaluations: int  # the final one plus those during training (train.eval_every)
    bench_images: int  # images the benchmark times (warm-up included)


@dataclass(frozen=True)
class RunEstimate:
    work: RunWork
    throughput: Throughput
    train_hours: float
    eval_hours: float
    bench_hours: float

    @property
    def device_hours(self) -> float:
        return self.train_hours + self.eval_hours + self.bench_hours

    def to_json(self) -> dict:
        return {**asdict(self.work), "throughput": asdict(self.throughput), "train_hours": self.train_hours,
                "eval_hours": self.eval_hours, "bench_hours": self.bench_hours, "device_hours": self.device_hours}


@dataclass(frozen=True)
class SlurmRequest:
    array_size: int  # one array task per run
    array_parallelism: int
    devices_per_job: int
    timeout_min: int  # the longest run's wall time with the margin

    def overrides(self) -> list[str]:
        """What to add to `asffbench sweep NAME --launcher submitit_slurm`."""
        return [f"hydra.launcher.timeout_min={self.timeout_min}",
                f"hydra.launcher.gpus_per_node={self.devices_per_job}",
                f"hydra.launcher.tasks_per_node={self.devices_per_job}",
                f"hydra.launcher.array_parallelism={self.array_parallelism}"]


def estimate_run(work: RunWork, throughput: Throughput) -> RunEstimate:
    if throughput.train_images_per_s <= 0 or throughput.forward_s_per_image < 0:
        raise ValueError(f"{throughput.source}: throughput must be positive")
    train = work.train_images * work.epochs / throughput.train_images_per_s
    evaluation = work.evaluations * work.val_images * throughput.forward_s_per_image
    bench = work.bench_images * throughput.forward_s_per_image
    return RunEstimate(work, throughput, train / 3600, evaluation / 3600, bench / 3600)


def slurm_request(estimates: Sequence[RunEstimate], devices_per_job: int, parallelism: int = 64) -> SlurmRequest:
    """The array request that fits every run: each job's wall time is its device-hours over its
    devices; the limit is the longest one's, with SLURM_MARGIN, in whole minutes."""
    longest = max((e.device_hours for e in estimates), default=0.0) / max(devices_per_job, 1)
    minutes = max(SLURM_MIN_MINUTES, math.ceil(longest * 60 * SLURM_MARGIN))
    return SlurmRequest(array_size=len(estimates), array_parallelism=min(parallelism, max(len(estimates), 1)),
                        devices_per_job=devices_per_job, timeout_min=minutes)


def total_device_hours(estimates: Sequence[RunEstimate]) -> float:
    return sum(e.device_hours for e in estimates)
