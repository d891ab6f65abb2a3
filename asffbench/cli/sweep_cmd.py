"""`asffbench sweep NAME [OVERRIDES]`: a shipped or given sweep through Hydra's multirun."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from asffbench.cli.common import OverridesArg, overrides_list
from asffbench.runs.launchers import LAUNCHER_PRESETS


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep_command(
        name: Optional[str] = typer.Argument(
            None, help="A shipped sweep (smoke, table3, ...) or a sweep .yaml file.", show_default=False
        ),
        overrides: Optional[list[str]] = OverridesArg,
        force: bool = typer.Option(False, "--force", help="Rerun runs that already completed."),
        seeds: Optional[int] = typer.Option(None, "--seeds", help="Repeat every run over seeds 0..N-1."),
        launcher: str = typer.Option(
            "basic", "--launcher", "-l", help=f"Hydra launcher: {', '.join(LAUNCHER_PRESETS)}."
        ),
        live: bool = typer.Option(True, "--live/--no-live", help="Show live progress on stderr."),
        list_runs: bool = typer.Option(False, "--list", help="Only list the runs and their overrides."),
        wait: bool = typer.Option(
            False, "--wait", help="At the end, wait for runs other processes hold, then finish them here."
        ),
        status: Optional[Path] = typer.Option(
            None, "--status", help="Only show the runs of this sweep dir: status, who holds them, since when."
        ),
        estimate: bool = typer.Option(
            False, "--estimate", help="Run nothing: device-hours of each run and in total, and the SLURM request."
        ),
        throughput: Optional[list[Path]] = typer.Option(
            None, "--throughput", help="--estimate from saved `bench --mode train --json` results (repeatable) "
            "instead of measuring each setting here.", show_default=False,
        ),
        train_images: Optional[int] = typer.Option(
            None, "--train-images", help="--estimate: images per epoch, when the train split is not here."
        ),
        val_images: Optional[int] = typer.Option(
            None, "--val-images", help="--estimate: val images, when the val split is not here."
        ),
        plan: Optional[Path] = typer.Option(
            None, "--plan", help="--estimate: repeat every run over the seeds a `plan --json` file recommends "
            "for the val images (--val-images, else the pilot's), and price them.",
        ),
    ) -> None:
        """Run every combination of a sweep's axes, one run directory and record each.

        Records go to <sweep dir>/<axis=value,...>/record.json (sweep dir: hydra.sweep.dir=DIR,
        default runs/sweeps/NAME). Re-running skips completed runs and resumes interrupted ones; a
        run another live process holds is left to it ("running elsewhere", see --wait).
        Exits 1 when any run failed.
        """
        from asffbench.errors import UserError
        from asffbench.record_schema import RECORD_NAME, run_name
        from asffbench.runs.launchers import check_launcher
        from asffbench.runs.sweep_spec import load_sweep

        if status is not None:
            print_status(status)
            return
        if name is None:
            raise UserError("sweep: give a sweep name or file (or --status DIR)")
        check_launcher(launcher)
        spec = load_sweep(name)
        if seeds is not None:
            spec = spec.with_seeds(seeds)
        if list_runs:
            for combo in spec.combinations():
                typer.echo(run_name(combo))
            return
        if plan is not None:
            if not estimate or seeds is not None:
                raise UserError("--plan: goes with --estimate, without --seeds (it chooses the seeds)")
            from asffbench.results.plan import seeds_from_plan_file

            planned, images = seeds_from_plan_file(plan, val_images)
            spec = spec.with_seeds(planned)
            typer.echo(f"plan {plan}: {planned} seed(s) per run detect its delta on {images} val images")
        if estimate:
            from asffbench.runs.sweep_estimate import estimate_sweep, write_estimate

            result = estimate_sweep(spec, overrides_list(overrides), throughput or (), train_images, val_images)
            print_estimate(result, write_estimate(result))
            return
        from asffbench.runs.sweep import launch_sweep  # torch-heavy: after the sweep file is read

        summary = launch_sweep(
            spec, overrides_list(overrides), launcher=launcher, force=force, monitor=live, wait=wait
        )
        elsewhere = summary.count("elsewhere")
        typer.echo(
            f"sweep {spec.name}: {summary.total} runs: completed {summary.count('completed')}, "
            f"skipped {summary.count('skipped')}, failed {summary.count('failed')}"
            + (f", running elsewhere {elsewhere}" if elsewhere else "")
            + f"  ({summary.sweep_dir})"
        )
        for run in summary.runs_with("failed"):
            typer.echo(f"  failed: {summary.sweep_dir / run / RECORD_NAME}", err=True)
        for run in summary.runs_with("elsewhere"):
            typer.echo(f"  running elsewhere: {summary.sweep_dir / run} ({summary.holders.get(run)})", err=True)
        if not summary.ok:
            raise typer.Exit(1)


def print_status(sweep_dir: Path) -> None:
    from asffbench.runs.monitor import run_states

    states = run_states(sweep_dir)
    held = sum(1 for state in states if state.holder is not None)
    typer.echo(f"{sweep_dir}: {len(states)} runs, {held} held")
    width = max((len(state.name) for state in states), default=0)
    for state in states:
        typer.echo(f"  {state.name:<{width}}  {state.status:<9}  {state.describe()}")


def print_estimate(result, written: Path) -> None:
    """Per run: throughput and hours by phase; the total; the SLURM request that fits."""
    typer.echo(f"sweep {result.sweep}: {len(result.runs)} runs, nothing run. device-hours = images per epoch x "
               "epochs / train images/s + evaluations + benchmark")
    width = max((len(run.work.run) for run in result.runs), default=3)
    typer.echo(f"  {'run':<{width}}  {'img/epoch':>9} {'epochs':>6} {'train img/s':>11} {'train h':>9} "
               f"{'eval h':>7} {'bench h':>7} {'device-h':>9}")
    for run in result.runs:
        typer.echo(f"  {run.work.run:<{width}}  {run.work.train_images:>9} {run.work.epochs:>6} "
                   f"{run.throughput.train_images_per_s:>11.2f} {run.train_hours:>9.2f} {run.eval_hours:>7.2f} "
                   f"{run.bench_hours:>7.2f} {run.device_hours:>9.2f}")
    sources = sorted({run.throughput.source for run in result.runs})
    typer.echo(f"total: {result.device_hours:.1f} device-hours ({result.device_hours / 24:.1f} device-days); "
               f"throughput: {', '.join(sources)}")
    slurm = result.slurm
    typer.echo(f"SLURM: an array of {slurm.array_size} jobs ({slurm.array_parallelism} at once), "
               f"{slurm.devices_per_job} device(s) each, timeout_min={slurm.timeout_min} "
               f"(the longest run's wall time x 1.25):")
    typer.echo(f"  asffbench sweep {result.sweep} ... --launcher submitit_slurm {' '.join(slurm.overrides())}")
    typer.echo(f"written: {written}")
