"""Sweeps through Hydra's real multirun, so every Hydra launcher (basic, joblib, submitit) works.

`launch_sweep` validates every run by composing its config (nothing starts when one is bad),
then calls Hydra's multirun with the sweep's axes as `key=a,b,c` overrides. Each job runs
`sweep_task` (on the launcher's worker: a joblib process, a SLURM task...), which decides to skip,
resume or start (see `resume.py`) and runs the experiment in `<sweep dir>/<axis=value,...>/`.
A job first holds its run dir (`lock.py`) and decides under the lock; a run another live process
holds is left to it (`running elsewhere`), and `wait=True` waits for those at the end and then
runs each of them again (skipped when the other process completed it, resumed when it died).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import yaml
from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_config_search_path
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobStatus
from hydra.errors import HydraException
from omegaconf import DictConfig, open_dict
from omegaconf.errors import OmegaConfBaseException

from asffbench.config.compose import (CONFIG_MODULE, CONFIG_NAME, compose_config, describe_config_error, first_line,
                                      quoted_for_hydra)
from asffbench.config.schema import register_configs
from asffbench.data.sources import SPLITS, check_source_paths
from asffbench.engine.distributed import process_rank
from asffbench.errors import UserError
from asffbench.model_source import without_starting_weights
from asffbench.record.layout import format_value, run_name
from asffbench.runs.experiment import experiment_hash
from asffbench.runs.isolation import run_in_fresh_process
from asffbench.runs.launchers import LAUNCHER_PRESETS, check_launcher
from asffbench.runs.lock import RunLockedError, hold_run, read_holder, wait_until_free
from asffbench.runs.monitor import SweepMonitor
from asffbench.runs.resume import RESUME, SKIP, attempt_id, plan_run
from asffbench.runs.run import run_experiment
from asffbench.runs.sweep_spec import (
    SweepSpec,
    case_override_list,
    fixed_overrides,
    iter_run_overrides,
    merge_overrides,
    override_key,
)
from asffbench.runs.robust import missing_evaluations, robust_for_config
from asffbench.settings import data_source, robust_settings

DEFAULT_SWEEPS_ROOT = Path("runs") / "sweeps"
log = logging.getLogger(__name__)
ELSEWHERE = "elsewhere"  # the status of a run another live process holds


@dataclass
class SweepSummary:
    sweep_dir: Path
    total: int
    # run name -> completed|skipped|failed|elsewhere
    statuses: dict[str, str] = field(default_factory=dict)
    holders: dict[str, str] = field(default_factory=dict)  # run name -> who holds it (elsewhere)

    def count(self, status: str) -> int:
        return sum(1 for s in self.statuses.values() if s == status)

    def runs_with(self, status: str) -> list[str]:
        return sorted(run for run, s in self.statuses.items() if s == status)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0 and len(self.statuses) == self.total


def sweep_task(cfg: DictConfig) -> dict:
    """Hydra task function of one sweep job (runs in every task of a multi-task SLURM job)."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir).resolve()
    sweep_dir = Path(hydra_cfg.sweep.dir).resolve()
    axes = axis_values(list(cfg.sweep.axes), list(hydra_cfg.overrides.task))
    with open_dict(cfg):
        cfg.run_dir = str(run_dir)
    result = {"run": run_dir.name, "run_dir": str(run_dir)}
    with ExitStack() as owned:
        holder = hold_for_job(owned, run_dir)
        if holder is not None:
            return {**result, "status": ELSEWHERE, "holder": holder}
        # Decided under the lock: what an earlier owner left is final by now.
        plan = plan_run(experiment_hash(cfg), run_dir, sweep_dir, bool(cfg.sweep.force))
        result["action"] = plan.action
        if plan.action == SKIP:
            robust_after_skip(cfg, run_dir)
            return {**result, "status": "skipped", "reason": plan.reason}
        with open_dict(cfg):
            cfg.train.resume = plan.action == RESUME
        attempt = {"id": attempt_id(), "action": plan.action, "reason": plan.reason}
        if cfg.sweep.isolate:
            record = run_in_fresh_process(run_experiment, cfg, axes, attempt)
        else:
            record = run_experiment(cfg, axes=axes, attempt=attempt)
        return {**result, "status": record.status, "error": record.error.to_dict() if record.error else None}


def robust_after_skip(cfg: DictConfig, run_dir: Path) -> None:
    """A completed run the sweep skips still gets the corrupted evaluations `robust.*` asks for
    and it lacks (a sweep run again with --robust), from its checkpoint."""
    robust = robust_settings(cfg)
    if process_rank() != 0 or not (robust.enabled and cfg.eval.enabled and missing_evaluations(run_dir, robust.cells)):
        return
    try:
        robust_for_config(without_starting_weights(cfg, []), run_dir, robust.cells, log.info)
    except UserError as err:  # e.g. a run that trained nothing has no checkpoint to evaluate again
        log.warning("%s: robustness not evaluated: %s", run_dir, err)


def hold_for_job(owned: ExitStack, run_dir: Path) -> Optional[str]:
    """Hold the run for this job (rank 0); who holds it instead when another process does.

    The other ranks of a multi-task job do not lock: they leave the run when a live holder of
    another attempt has it, and otherwise follow rank 0 (as they follow its plan).
    """
    if process_rank() == 0:
        try:
            owned.enter_context(hold_run(run_dir, attempt_id()))
        except RunLockedError as err:
            return err.holder.describe()
        return None
    holder, mine = read_holder(run_dir), attempt_id()
    return holder.describe() if holder is not None and holder.attempt != mine and holder.holds_against(mine) else None


def axis_values(axis_keys: Sequence[str], task_overrides: Sequence[str]) -> dict[str, Any]:
    """{axis: value} of this job, read back from its Hydra overrides (typed as YAML reads them)."""
    values = {}
    for override in task_overrides:
        key = override_key(override)
        if key in axis_keys:
            values[key] = yaml.safe_load(override.split("=", 1)[1])
    return {key: values[key] for key in axis_keys if key in values}


def split_cli_overrides(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """(experiment overrides, hydra overrides); a swept value on the command line is refused."""
    parser = OverridesParser.create()
    experiment, hydra = [], []
    for text in overrides:
        try:
            parsed = parser.parse_override(text)
        except Exception as err:  # noqa: BLE001 - Hydra's parse errors have several types
            raise UserError(f"cannot parse override '{text}': {first_line(str(err))}") from None
        key = parsed.key_or_group
        if key == "hydra" or key.startswith("hydra.") or key.startswith("hydra/"):
            hydra.append(text)
        elif parsed.is_sweep_override():
            raise UserError(f"override '{text}': sweep axes belong in the sweep file (`axes:`)")
        elif key in ("run_dir", "sweep") or key.startswith("sweep."):
            raise UserError(f"override '{text}': set by `asffbench sweep` (use hydra.sweep.dir=DIR)")
        else:
            experiment.append(text)
    return experiment, hydra


def validate_runs(spec: SweepSpec, shared: Sequence[str]) -> None:
    """Compose every run's config; the first bad one stops the sweep before anything starts."""
    shared_keys = {override_key(o) for o in shared}
    for key in spec.axes:
        if key in shared_keys:
            raise UserError(f"override '{key}=...' conflicts with the axis '{key}' of {spec.source}")
    for combo, overrides in iter_run_overrides(spec, shared):
        try:
            cfg = compose_config(overrides)
            for split in SPLITS:  # a missing dataset fails here, not in every job
                check_source_paths(data_source(cfg), split)
        except UserError as err:
            where = ",".join(f"{k}={format_value(v)}" for k, v in combo.items())
            raise UserError(f"{spec.source} (run {where}): {err}") from None


def sweep_dir_from(hydra_overrides: list[str], spec: SweepSpec) -> tuple[Path, list[str]]:
    """The sweep dir (absolute, so jobs elsewhere agree) and the other hydra overrides."""
    sweep_dir = DEFAULT_SWEEPS_ROOT / spec.name
    rest = []
    for text in hydra_overrides:
        if override_key(text) == "hydra.sweep.dir":
            sweep_dir = Path(text.split("=", 1)[1].strip("'\""))
        else:
            rest.append(text)
    return sweep_dir.resolve(), rest


def launch_sweep(
    spec: SweepSpec,
    cli_overrides: Sequence[str] = (),
    launcher: str = "basic",
    force: bool = False,
    monitor: bool = True,
    wait: bool = False,
) -> SweepSummary:
    """Run the sweep through Hydra multirun; return what each run ended as.

    With `wait`, runs held by other processes are waited for and then run again here."""
    check_launcher(launcher)
    experiment, hydra_overrides = split_cli_overrides(cli_overrides)
    shared = merge_overrides(fixed_overrides(spec), experiment)
    validate_runs(spec, shared)
    sweep_dir, hydra_overrides = sweep_dir_from(hydra_overrides, spec)
    summary = run_jobs(spec, shared, hydra_overrides, sweep_dir, launcher, force, monitor)
    while wait and summary.count(ELSEWHERE):
        # Not forced again: the other process has just run them; a rerun skips what it completed.
        rerun = partial(run_jobs, shared=shared, hydra_overrides=hydra_overrides, sweep_dir=sweep_dir,
                        launcher=launcher, force=False, monitor=monitor)
        wait_and_rerun_held(spec, summary, rerun)
    return summary


def wait_and_rerun_held(spec: SweepSpec, summary: SweepSummary, rerun: Callable[[SweepSpec], SweepSummary]) -> None:
    """Wait until the runs held elsewhere are free, then run each again as a one-run sweep."""
    held = summary.runs_with(ELSEWHERE)
    sys.stderr.write(f"sweep: waiting for {len(held)} run(s) held elsewhere: {', '.join(held)}\n")
    sys.stderr.flush()
    wait_until_free([summary.sweep_dir / run for run in held])
    combos = {run_name(combo): combo for combo in spec.combinations()}
    for run in held:
        again = rerun(dataclasses.replace(spec, axes={k: [v] for k, v in combos[run].items()}))
        summary.statuses[run] = again.statuses.get(run, "failed")
        summary.holders.pop(run, None)
        summary.holders.update(again.holders)


def run_jobs(
    spec: SweepSpec,
    shared: Sequence[str],
    hydra_overrides: Sequence[str],
    sweep_dir: Path,
    launcher: str,
    force: bool,
    monitor: bool,
) -> SweepSummary:
    """Hydra multiruns over the spec's runs (one per block of `SweepSpec.parts`); what each job
    returned."""
    names = [run_name(combo) for combo in spec.combinations()]

    watcher = SweepMonitor(sweep_dir, names, enabled=monitor)
    with watcher:
        returns = [
            batch
            for axes, case in spec.parts()  # one multirun per block of runs sharing `cases` overrides
            for batch in run_multirun(multirun_overrides(
                spec, axes, case_override_list(case, shared), hydra_overrides, sweep_dir, launcher, force))
        ]
    summary = SweepSummary(sweep_dir=sweep_dir, total=len(names))
    for job in (job for batch in returns for job in batch):
        value = job_value(job)
        summary.statuses[value["run"]] = value["status"]
        if value["status"] == ELSEWHERE:
            summary.holders[value["run"]] = value.get("holder", "?")
    return summary


def multirun_overrides(
    spec: SweepSpec,
    axes: dict[str, list[Any]],
    shared: Sequence[str],
    hydra_overrides: Sequence[str],
    sweep_dir: Path,
    launcher: str,
    force: bool,
) -> list[str]:
    """Hydra's overrides of one multirun over `axes` (the whole sweep, or a block of its runs)."""
    not_in_dirname = sorted({override_key(o) for o in shared} | {"sweep.name", "sweep.axes", "sweep.force", "sweep.isolate"})
    return [
        *(quoted_for_hydra(o) for o in shared),  # one value each: a path's `=` quoted, as compose does
        *(f"{key}={','.join(format_value(v) for v in values)}" for key, values in axes.items()),
        f"sweep.name={spec.name}",
        f"sweep.axes=[{','.join(spec.axes)}]",
        f"sweep.force={format_value(force)}",
        f"sweep.isolate={format_value(spec.isolate)}",
        f"hydra/launcher={LAUNCHER_PRESETS[launcher]}",
        f"hydra.sweep.dir={sweep_dir}",
        "hydra.sweep.subdir=${hydra.job.override_dirname}",
        f"hydra.job.config.override_dirname.exclude_keys=[{','.join(not_in_dirname)}]",
        f"hydra.job.name=asffbench-{spec.name}",
        *hydra_overrides,
    ]


def run_multirun(overrides: list[str]) -> Any:
    """Hydra's multirun (what `--multirun` does) with our task function and config package."""
    register_configs()
    GlobalHydra.instance().clear()
    search_path = create_config_search_path(f"pkg://{CONFIG_MODULE}")
    hydra = Hydra.create_main_hydra2(task_name="asffbench-sweep", config_search_path=search_path)
    try:
        return hydra.multirun(config_name=CONFIG_NAME, task_function=sweep_task, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as err:
        raise UserError(describe_config_error(err)) from None
    finally:
        GlobalHydra.instance().clear()


def job_value(job: Any) -> dict:
    """A job's returned dict; a job that raised (outside run_experiment) counts as failed."""
    if job.status == JobStatus.COMPLETED and isinstance(job._return_value, dict):
        return job._return_value
    output_dir = job.hydra_cfg.hydra.runtime.output_dir if job.hydra_cfg is not None else "?"
    run = Path(str(output_dir)).name
    return {"run": run, "status": "failed", "error": repr(job._return_value)}
