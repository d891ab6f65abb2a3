"""`asffbench sweep NAME [OVERRIDES]`: a shipped or given sweep through Hydra's multirun."""

from __future__ import annotations

from typing import Optional

import typer

from asffbench.cli.common import OverridesArg, overrides_list
from asffbench.runs.launchers import LAUNCHER_PRESETS


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep_command(
        name: str = typer.Argument(..., help="A shipped sweep (smoke, table3, ...) or a sweep .yaml file."),
        overrides: Optional[list[str]] = OverridesArg,
        force: bool = typer.Option(False, "--force", help="Rerun runs that already completed."),
        seeds: Optional[int] = typer.Option(None, "--seeds", help="Repeat every run over seeds 0..N-1."),
        launcher: str = typer.Option(
            "basic", "--launcher", "-l", help=f"Hydra launcher: {', '.join(LAUNCHER_PRESETS)}."
        ),
        live: bool = typer.Option(True, "--live/--no-live", help="Show live progress on stderr."),
        list_runs: bool = typer.Option(False, "--list", help="Only list the runs and their overrides."),
    ) -> None:
        """Run every combination of the sweep's axes, one record per run in
        <sweep dir>/<axis=value,...>/record.json (sweep dir: hydra.sweep.dir=DIR, default
        runs/sweeps/NAME). Re-running skips completed runs and resumes interrupted ones.
        Exits 1 when any run failed."""
        from asffbench.record_schema import RECORD_NAME
        from asffbench.runs.launchers import check_launcher
        from asffbench.runs.sweep import launch_sweep
        from asffbench.runs.sweep_spec import load_sweep, run_name

        check_launcher(launcher)
        spec = load_sweep(name)
        if seeds is not None:
            spec = spec.with_seeds(seeds)
        if list_runs:
            for combo in spec.combinations():
                typer.echo(run_name(combo))
            return
        summary = launch_sweep(spec, overrides_list(overrides), launcher=launcher, force=force, monitor=live)
        failed = sorted(run for run, status in summary.statuses.items() if status == "failed")
        typer.echo(
            f"sweep {spec.name}: {summary.total} runs: completed {summary.count('completed')}, "
            f"skipped {summary.count('skipped')}, failed {summary.count('failed')}"
            f"  ({summary.sweep_dir})"
        )
        for run in failed:
            typer.echo(f"  failed: {summary.sweep_dir / run / RECORD_NAME}", err=True)
        if not summary.ok:
            raise typer.Exit(1)
