"""`asffbench sweep NAME --estimate`: every run's device-hours and the SLURM request, nothing run.

The steps: split the command line's overrides as a launch would, compose each run's config,
read what it does (`estimate_inputs.run_work`), get its setting's throughput (measured once per
setting, or from `--throughput` files), do the arithmetic (`estimate.estimate_run`), size the
SLURM array, and keep it all as `<sweep dir>/estimate.json` for the report to set beside the
actual device-hours of each run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from asffbench.atomic import write_json_atomic
from asffbench.config.compose import compose_config
from asffbench.record.layout import ESTIMATE_NAME, run_name
from asffbench.runs.estimate import RunEstimate, SlurmRequest, estimate_run, slurm_request, total_device_hours
from asffbench.runs.estimate_inputs import ThroughputSource, devices_per_job, run_work
from asffbench.runs.sweep import split_cli_overrides, sweep_dir_from
from asffbench.runs.sweep_spec import SweepSpec, fixed_overrides, iter_run_overrides, merge_overrides


@dataclass(frozen=True)
class SweepEstimate:
    sweep: str
    sweep_dir: Path
    runs: list[RunEstimate]
    slurm: SlurmRequest

    @property
    def device_hours(self) -> float:
        return total_device_hours(self.runs)

    def to_json(self) -> dict:
        return {"sweep": self.sweep, "sweep_dir": str(self.sweep_dir), "device_hours": self.device_hours,
                "runs": [run.to_json() for run in self.runs],
                "slurm": {**self.slurm.__dict__, "overrides": self.slurm.overrides()}}


def estimate_sweep(spec: SweepSpec, cli_overrides: Sequence[str] = (), throughput_files: Sequence[Path] = (),
                   train_images: Optional[int] = None, val_images: Optional[int] = None) -> SweepEstimate:
    """The estimate of every run of `spec` (trains nothing, launches nothing)."""
    experiment, hydra_overrides = split_cli_overrides(cli_overrides)
    shared = merge_overrides(fixed_overrides(spec), experiment)
    devices = devices_per_job(hydra_overrides)
    source = ThroughputSource(list(throughput_files))
    counts = {"train": train_images, "val": val_images}
    runs = []
    for combo, overrides in iter_run_overrides(spec, shared):
        name, cfg = run_name(combo), compose_config(overrides)
        runs.append(estimate_run(run_work(name, cfg, devices, counts), source.throughput(name, cfg)))
    sweep_dir, _rest = sweep_dir_from(hydra_overrides, spec)
    return SweepEstimate(spec.name, sweep_dir, runs, slurm_request(runs, devices))


def write_estimate(estimate: SweepEstimate) -> Path:
    """`<sweep dir>/estimate.json`, what the report reads."""
    return write_json_atomic(estimate.sweep_dir / ESTIMATE_NAME, estimate.to_json())
